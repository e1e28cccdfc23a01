import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A response read whole.
struct HTTPResult: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: String

    /// The body as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
}

/// One request with the shared client; bodies up to 16 MiB.
func http(_ method: HTTPMethod, _ url: String, body: String? = nil, headers: [(String, String)] = []) async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body {
        request.body = .bytes(ByteBuffer(string: body))
        if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            request.headers.add(name: "content-type", value: "application/json")
        }
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 16 * 1_024 * 1_024)
    return HTTPResult(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
}

/// Polls `check` until it is true or `timeout` passes; returns whether it became true.
func eventually(timeout: Duration = .seconds(3), _ check: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await check() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await check()
}

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("fleetd-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
