import AsyncHTTPClient
import Foundation
import Logging
import MCP
import Providers
import Streaming
import SystemPackage

/// fleetd's MCP client session with one tool server: started (or reached) on first need, its
/// tools listed (and listed again when the server sends `notifications/tools/list_changed`),
/// calls sent with cancellation, and restarted after it dies. A server that is down makes calls
/// fail at once with ``ToolInvocationError`` (`unavailable`); fleetd tries it again at most every
/// ``retryInterval``.
actor ToolServerConnection {
    let spec: ToolServerSpec
    private let logger: Logger
    private let httpClient: HTTPClient
    private let connectTimeout: Duration
    private let retryInterval: Duration
    /// How long a stdio server's process group gets between SIGTERM and SIGKILL.
    private let stopGrace: Duration

    private enum State {
        case idle
        case connecting(Task<Void, Never>)
        case ready(Client, [Tool], ServerProcess?)
        case failed(String, at: ContinuousClock.Instant)
        case closed
    }

    private var state: State = .idle
    /// The client and process of a connection being made, so that a process that dies during
    /// `initialize` fails it at once instead of after the timeout.
    private var pending: (client: Client, process: ServerProcess?)?
    /// The ``close()`` in progress, which a second one waits for (fleetd stopping while a reload
    /// closes the server).
    private var closing: Task<Void, Never>?
    /// Told once the server's new tool list (after its `notifications/tools/list_changed`) is in
    /// place: ``tools()`` returns it from then on.
    private let onToolsChanged: @Sendable () async -> Void
    /// Listings the server's change notifications started, and the number of the last one kept:
    /// a listing that ends after a later one is dropped.
    private var listingsStarted = 0
    private var listingKept = 0
    /// A change notification came while the connection listed its first tools: they are listed
    /// again once it is ready.
    private var changedWhileConnecting = false

    /// `httpClient`: what a Streamable HTTP server is called with.
    init(spec: ToolServerSpec, logger: Logger, httpClient: HTTPClient = .shared, connectTimeout: Duration = .seconds(10),
         retryInterval: Duration = .seconds(2), stopGrace: Duration = .seconds(2), onToolsChanged: @escaping @Sendable () async -> Void = {}) {
        self.spec = spec
        self.logger = logger
        self.httpClient = httpClient
        self.connectTimeout = connectTimeout
        self.retryInterval = retryInterval
        self.stopGrace = stopGrace
        self.onToolsChanged = onToolsChanged
    }

    /// Whether it is connected and has listed its tools.
    var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    /// The server's tools, connecting first when needed; empty (and a logged error) when it
    /// cannot be reached.
    func tools() async -> [Tool] {
        await ensureConnected()
        if case .ready(_, let tools, _) = state { return tools }
        return []
    }

    /// Calls `name` with `arguments`; cancelling the calling task cancels the request (MCP
    /// `notifications/cancelled`) and returns at once.
    func call(_ name: String, arguments: [String: Value]) async throws -> CallTool.Result {
        await ensureConnected()
        guard case .ready(let client, _, _) = state else {
            if case .failed(let reason, _) = state {
                throw ToolInvocationError(.unavailable, "tool server '\(spec.name)' is not available: \(reason)")
            }
            throw ToolInvocationError(.unavailable, "tool server '\(spec.name)' is not available")
        }
        let context: RequestContext<CallTool.Result>
        do {
            context = try await client.send(CallTool.request(.init(name: name, arguments: arguments)))
        } catch {
            await lost("the call could not be sent: \(error)")
            throw ToolInvocationError(.unavailable, "tool server '\(spec.name)' could not be reached: \(error)")
        }
        do {
            return try await withTaskCancellationHandler {
                try await context.value
            } onCancel: {
                Task { try? await client.cancelRequest(context.requestID, reason: "the fleetd task was cancelled or timed out") }
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as MCPError {
            if case .internalError(let detail) = error, detail == "Client disconnected" {
                throw ToolInvocationError(.unavailable, "tool server '\(spec.name)' went away during the call")
            }
            if case .internalError(let detail?) = error, detail == HTTPToolServerTransport.sessionEnded {
                // The next call connects again (a new `initialize`, a new session).
                await lost(detail)
                throw ToolInvocationError(.unavailable, "tool server '\(spec.name)': \(detail)")
            }
            throw ToolInvocationError(.failed, "\(error)")
        } catch {
            // Not the server's answer: the transport broke (an HTTP server that went away). The
            // next call connects again.
            await lost("\(error)")
            throw ToolInvocationError(.unavailable, "tool server '\(spec.name)' could not be reached: \(error)")
        }
    }

    /// Stops the server (a reload removed or replaced it, or fleetd is stopping); returns once its
    /// process group is gone (SIGKILL sent at the latest ``stopGrace`` after SIGTERM).
    func close() async {
        if let closing {
            await closing.value
            return
        }
        let closing = Task { await closeNow() }
        self.closing = closing
        await closing.value
    }

    private func closeNow() async {
        let previous = state
        state = .closed
        switch previous {
        case .ready(let client, _, let process):
            await client.disconnect()
            await end(process)
        case .connecting(let task):
            if let pending {
                await pending.client.disconnect()
                endInBackground(pending.process) // `connect` waits for its end
            }
            await task.value
        case .idle, .failed, .closed:
            break
        }
    }

    /// Ends a server's process group and waits for it: input closed, SIGTERM, SIGKILL once it
    /// exited or after ``stopGrace``.
    private func end(_ process: ServerProcess?) async {
        await process?.stop().run(grace: stopGrace)
    }

    /// ``end(_:)`` in the background: a failed call or connection is not held for the grace period.
    private func endInBackground(_ process: ServerProcess?) {
        guard let termination = process?.stop() else { return }
        let grace = stopGrace
        Task { await termination.run(grace: grace) }
    }

    // MARK: Connecting

    private func ensureConnected() async {
        switch state {
        case .ready, .closed:
            return
        case .connecting(let task):
            await task.value
        case .failed(_, let at) where ContinuousClock.now - at < retryInterval:
            return
        case .idle, .failed:
            let task = Task { await connect() }
            state = .connecting(task)
            await task.value
        }
    }

    private func connect() async {
        let client = Client(name: "fleetd", version: "1.0.5")
        changedWhileConnecting = false
        // The client awaits its handlers before it reads the next message, so the handler only
        // starts the listing: awaiting the answer to `tools/list` there would wait forever.
        await client.onNotification(ToolListChangedNotification.self) { [weak self, weak client] _ in
            guard let self, let client else { return }
            Task { await self.toolListChanged(on: client) }
        }
        let process: ServerProcess?
        let transport: any Transport
        do {
            (transport, process) = try await makeTransport()
        } catch {
            fail("it could not be started: \(error)")
            return
        }
        pending = (client, process)
        defer { pending = nil }
        let timeout = connectTimeout
        let connected: Result<[Tool], any Error>? = await withTaskGroup(of: Result<[Tool], any Error>?.self) { group in
            group.addTask {
                do {
                    try await client.connect(transport: transport)
                    return .success(try await Self.listTools(of: client))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil {
                // Timed out: disconnecting resumes the pending request with an error.
                await client.disconnect()
            }
            group.cancelAll()
            return first
        }
        if case .closed = state {
            await client.disconnect()
            await end(process)
            return
        }
        switch connected {
        case .success(let tools)?:
            state = .ready(client, tools, process)
            logger.notice("tool server connected", metadata: [
                "server": "\(spec.name)", "tools": "\(tools.map(\.name).joined(separator: ","))",
            ])
            if let process, !process.isRunning {
                await lost("its process exited")
            } else if changedWhileConnecting {
                Task { await toolListChanged(on: client) }
            }
        case .failure(let error)?:
            await client.disconnect()
            endInBackground(process)
            fail("\(error)")
        case nil:
            endInBackground(process)
            fail("no answer to initialize within \(timeout)")
        }
    }

    /// Every page of the server's tools (at most about 1,000 tools).
    private static func listTools(of client: Client) async throws -> [Tool] {
        var tools: [Tool] = []
        var cursor: String?
        repeat {
            let page = try await client.listTools(cursor: cursor)
            tools += page.tools
            cursor = page.nextCursor
        } while cursor != nil && tools.count < 1_000
        return tools
    }

    /// The server said its tools changed (`notifications/tools/list_changed`, which a server
    /// with the `tools.listChanged` capability sends): they are listed again and, once in place,
    /// ``onToolsChanged`` is told. Only the session the notice came on counts; of two listings
    /// that overlap, the later one is kept.
    private func toolListChanged(on client: Client) async {
        if let pending, pending.client === client {
            changedWhileConnecting = true // the first listing may have missed the change
            return
        }
        guard case .ready(let session, _, _) = state, session === client else { return }
        listingsStarted += 1
        let number = listingsStarted
        let tools: [Tool]
        do {
            tools = try await Self.listTools(of: client)
        } catch {
            logger.warning("tool server's changed tool list could not be read", metadata: ["server": "\(spec.name)", "error": "\(error)"])
            return
        }
        // Still the session it was read from (not lost, closed or replaced meanwhile).
        guard number > listingKept, case .ready(let stillSession, _, let process) = state, stillSession === client else { return }
        listingKept = number
        state = .ready(client, tools, process)
        logger.notice("tool server's tools changed", metadata: [
            "server": "\(spec.name)", "tools": "\(tools.map(\.name).joined(separator: ","))",
        ])
        await onToolsChanged()
    }

    private func fail(_ reason: String) {
        if case .closed = state { return }
        state = .failed(reason, at: .now)
        logger.error("tool server unavailable", metadata: ["server": "\(spec.name)", "command": "\(spec.summary)", "error": "\(reason)"])
    }

    /// The server's process ended, or its connection broke: calls in flight fail now; the next
    /// call starts it again (after ``retryInterval``).
    private func lost(_ reason: String) async {
        guard case .ready(let client, _, let process) = state else { return }
        fail(reason)
        await client.disconnect()
        endInBackground(process) // and what it started (an `npx` wrapper's `node`)
    }

    /// A stdio server answers nothing more: its process exited, or its output ended (it died, or
    /// closed its output and stayed). Whichever is seen first counts; the other finds it handled.
    private func ended(pid: Int32, _ reason: String) async {
        if let pending, pending.process?.pid == pid {
            await pending.client.disconnect() // fails the `initialize` in flight now
            return
        }
        guard case .ready(_, _, let process?) = state, process.pid == pid else { return }
        // Its output usually ends before the exit is told: the status says more, once known.
        let reason = process.exitStatus.map { "its process exited with status \($0)" } ?? reason
        logger.error("tool server ended", metadata: ["server": "\(spec.name)", "reason": "\(reason)"])
        await lost(reason)
    }

    private func makeTransport() async throws -> (any Transport, ServerProcess?) {
        switch spec.transport {
        case .stdio(let command, let args, let environment, let directory):
            let serverEnvironment = Self.processEnvironment(configured: environment)
            let logger = self.logger, name = spec.name
            let process = try await ServerProcess.start(
                executable: Self.resolve(command, environment: serverEnvironment), arguments: args,
                environment: serverEnvironment, directory: directory,
                logLines: { line in
                    logger.info("tool server stderr", metadata: ["server": "\(name)", "line": "\(line.prefix(500))"])
                },
                onExit: { [weak self] pid, status in
                    await self?.ended(pid: pid, "its process exited with status \(status)")
                }
            )
            let pid = process.pid
            let transport = StdioToolServerTransport(input: process.output, output: process.input,
                                                     logger: logger) { [weak self] reason in await self?.ended(pid: pid, reason) }
            return (transport, process)
        case .http(let url, let headers):
            return (HTTPToolServerTransport(endpoint: url, headers: headers, httpClient: httpClient, logger: logger), nil)
        }
    }

    /// What a stdio server's process starts with, as the official MCP SDKs do it (the Python
    /// SDK's `get_default_environment()`): only ``inheritedVariables`` of fleetd's environment
    /// (a value that is a shell function, `() {…}`, is left out), then the server's configured
    /// `env` over them. Nothing else of fleetd's environment reaches the server (no provider API
    /// keys, `JWT_SECRET` or `FLEETD_ADMIN_TOKEN`); a variable it needs is passed through by
    /// naming it in `env` (`GITHUB_TOKEN: "${GITHUB_TOKEN}"`, filled in by the config).
    static func processEnvironment(configured: [String: String],
                                   inherited: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var environment: [String: String] = [:]
        for name in inheritedVariables {
            guard let value = inherited[name], !value.hasPrefix("()") else { continue }
            environment[name] = value
        }
        return environment.merging(configured) { _, given in given }
    }

    /// The variables of fleetd's environment every stdio server gets (the MCP SDKs' default
    /// inherited variables on POSIX).
    static let inheritedVariables = ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"]

    /// A bare command name is looked up on `PATH` (the server's, else fleetd's), as a shell would.
    static func resolve(_ command: String, environment: [String: String]) -> String {
        guard !command.contains("/") else { return command }
        let path = environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return command
    }
}
