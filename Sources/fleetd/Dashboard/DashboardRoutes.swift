import Fleet
import FleetSupport
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The operator dashboard: static pages at `/` and `/ui/<page>` with their assets at
/// `/ui/assets/<file>`, and the live figures only the dashboard needs (`GET /v1/stats/live`,
/// `GET /v1/routing/recent`). Everything else the pages show comes from the public API.
///
/// The pages are plain HTML, CSS and JavaScript in `Sources/fleetd/Dashboard/Site`, shipped as a
/// SwiftPM resource (`fleetd_fleetd.resources/Site` beside the binary; see ``DashboardSite``):
/// no npm, no build step, no outside host. They are read once at start-up and served from memory,
/// with a content security policy that allows this origin only, so a page can load nothing from
/// the internet even by mistake.
struct DashboardRoutes {
    let manager: FleetManager
    let live: LiveStats
    let site: DashboardSite

    /// The pages, each an address of its own; the same document renders whichever the path names.
    static let pages = ["overview", "spend", "models", "flags", "routing", "agents"]

    func register(open router: some RouterMethods<FleetRequestContext>, fleetWide: some RouterMethods<FleetRequestContext>) {
        let site = self.site
        router.get("/") { _, _ -> Response in try site.response(for: "index.html") }
        router.get("ui") { _, _ -> Response in try site.response(for: "index.html") }
        router.get("ui/:page") { _, context -> Response in
            let page = try context.parameters.require("page")
            guard Self.pages.contains(page) else { throw HTTPError(.notFound) }
            return try site.response(for: "index.html")
        }
        router.get("ui/assets/:file") { _, context -> Response in
            try site.response(for: try context.parameters.require("file"))
        }
        let manager = self.manager, live = self.live
        fleetWide.get("v1/stats/live") { _, _ -> Response in
            let queueDepth = await manager.waitingTasks
            return try jsonResponse(live.view(queueDepth: queueDepth))
        }
        fleetWide.get("v1/routing/recent") { request, _ -> Response in
            let limit = request.uri.queryParameters["limit"].flatMap { Int(String($0)) } ?? 50
            return try jsonResponse(["selections": live.recentSelections(limit: min(max(limit, 0), LiveStats.selectionCapacity))])
        }
    }
}

/// The dashboard's files, read into memory once.
struct DashboardSite: Sendable {
    struct File: Sendable {
        var bytes: ByteBuffer
        var contentType: String
    }
    let files: [String: File]
    /// Why there are no files (the resource folder was not found); the pages answer 503 saying so.
    var missing: String? = nil

    /// Where SwiftPM puts the `fleetd` target's resources: `fleetd_fleetd.resources/` beside the
    /// executable. Found here rather than with `Bundle.module`, whose generated accessor stops the
    /// process (`fatalError`) when the folder is absent: a binary copied without it must still serve
    /// the API, and say what is missing.
    static func bundledFolder() -> URL? {
        var candidates = [Bundle.main.bundleURL]
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(executable.deletingLastPathComponent())
        }
        return candidates.map { $0.appendingPathComponent("fleetd_fleetd.resources/Site") }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("index.html").path) }
    }

    /// The copy shipped with the binary, or a site that says where it should have been.
    static func bundled() throws -> DashboardSite {
        guard let folder = bundledFolder() else {
            return DashboardSite(files: [:], missing: "the dashboard's files are missing: fleetd_fleetd.resources/Site "
                                 + "should sit beside the fleetd binary (\(Bundle.main.bundleURL.path)); the API works without them")
        }
        return try DashboardSite(folder: folder)
    }

    init(files: [String: File], missing: String?) {
        self.files = files
        self.missing = missing
    }

    init(folder: URL) throws {
        var files: [String: File] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            guard let type = Self.contentTypes[(name as NSString).pathExtension] else { continue }
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            files[name] = File(bytes: ByteBuffer(bytes: data), contentType: type)
        }
        self.files = files
    }

    static let contentTypes = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml",
    ]

    /// Only this origin: no CDN, no inline script, nothing framed elsewhere.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    func response(for name: String) throws -> Response {
        if let missing {
            return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: missing + "\n")))
        }
        guard let file = files[name] else { throw HTTPError(.notFound) }
        return Response(status: .ok, headers: [
            .contentType: file.contentType,
            .cacheControl: "no-cache",
            .contentSecurityPolicy: Self.contentSecurityPolicy,
            HTTPField.Name("x-content-type-options")!: "nosniff",
            HTTPField.Name("referrer-policy")!: "no-referrer",
        ], body: .init(byteBuffer: file.bytes))
    }
}

/// Every second, reads the fleet's queue depth into the live series (open streams are counted as
/// they open and close), so the overview's queue chart has a point even when nobody asks.
struct LiveStatsSampler: Service {
    let manager: FleetManager
    let live: LiveStats

    func run() async throws {
        let manager = self.manager, live = self.live
        await runPeriodically(every: .seconds(1), tickFirst: true) {
            live.sample(queueDepth: await manager.waitingTasks)
        }
    }
}
