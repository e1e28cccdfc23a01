import NIOCore
import NIOHTTP1

/// Reads requests on one connection (or one HTTP/2 stream) and plays the script's answer for each.
/// Lives on its channel's event loop (NIO handlers are not shared across threads).
final class FakeConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart

    private let holder: ServerHolder
    private let framing: FakeResponseWriter.Framing
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// The writer of the previous answer on this connection: the next one waits for it.
    private var previous: Task<Bool, Never>?

    init(server: ServerHolder, framing: FakeResponseWriter.Framing = .http1) {
        self.holder = server
        self.framing = framing
    }

    // An HTTP/2 stream's handler lives as long as its stream: these count the open ones.
    func handlerAdded(context: ChannelHandlerContext) {
        if framing == .http2 { holder.value?.state.withLock { $0.openStreams += 1 } }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if framing == .http2 { holder.value?.state.withLock { $0.openStreams -= 1 } }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            // The TCP connection: an HTTP/2 stream's parent.
            let connection = ObjectIdentifier(framing == .http2 ? (context.channel.parent ?? context.channel) : context.channel)
            holder.value?.state.withLock { _ = $0.carried.insert(connection) }
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head, let server = holder.value else { return }
            let request = RecordedRequest(
                method: head.method.rawValue, uri: head.uri,
                headers: head.headers.map { ($0.name, $0.value) }, body: body, httpVersion: head.version.major
            )
            let record = server.recordsRequests
            let index = server.state.withLock { state -> Int in
                if record { state.requests.append(request) }
                state.requestCount += 1
                return state.requestCount - 1
            }
            let response = server.script.respond(request, index)
            let channel = context.channel
            let before = previous
            let framing = framing
            let writer = Task<Bool, Never> {
                guard await before?.value ?? true else { return false }
                return await FakeResponseWriter(server: server, channel: channel, framing: framing).play(response)
            }
            previous = writer
            server.state.withLock { state in
                let id = state.nextWriter
                state.nextWriter += 1
                state.writers[id] = Task {
                    _ = await writer.value
                    server.state.withLock { _ = $0.writers.removeValue(forKey: id) }
                }
            }
            self.head = nil
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Connections the server has: counted and kept for ``FakeProviderServer/shutdown()``. First in
/// a connection's pipeline (before TLS), so it sees the TCP connection, not HTTP/2's streams.
final class FakeConnectionTracker: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let holder: ServerHolder

    init(server: ServerHolder) {
        self.holder = server
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        holder.value?.state.withLock {
            $0.children[ObjectIdentifier(channel)] = channel
            $0.connectionsAccepted += 1
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let channel = context.channel
        holder.value?.state.withLock {
            _ = $0.children.removeValue(forKey: ObjectIdentifier(channel))
            $0.carried.remove(ObjectIdentifier(channel))
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }
}

/// Writes one scripted answer, piece by piece, waiting for each write to complete.
struct FakeResponseWriter: Sendable {
    /// How the answer goes out: HTTP/1.1 bytes on the connection (a raw answer as it is), or as
    /// HTTP/1-style parts on one HTTP/2 stream, which NIOHTTP2's codec frames.
    enum Framing: Sendable {
        case http1, http2
    }

    let server: FakeProviderServer
    let channel: any Channel
    var framing: Framing = .http1

    /// Returns whether the connection is still usable for another answer.
    func play(_ response: FakeResponse) async -> Bool {
        if framing == .http2 {
            guard await startHTTP2(response) else { return false }
        }
        var head: [UInt8] = []
        if !response.raw, framing == .http1 {
            var text = "HTTP/1.1 \(response.status) \(response.reason)\r\n"
            for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
            if !response.headers.contains(where: { $0.0.lowercased() == "content-length" }) {
                text += "content-length: \(response.body.count)\r\n"
            }
            text += "\r\n"
            head = Array(text.utf8)
        }
        let pieceSize = max(1, response.chunkSize ?? 65_536)
        var sent = 0
        var first = true
        let limit: Int? = switch response.fault {
        case .cutAfter(let n), .stallAfter(let n): n
        case nil: nil
        }

        func write(_ bytes: ArraySlice<UInt8>) async -> Bool {
            var bytes = bytes
            if let limit {
                let room = limit - sent
                if room <= 0 { return false }
                if bytes.count > room { bytes = bytes.prefix(room) }
            }
            if !first, response.delay > .zero {
                do { try await Task.sleep(for: response.delay) } catch { return false }
            }
            first = false
            if Task.isCancelled { return false }
            server.state.withLock { $0.bytesQueued += bytes.count }
            do {
                switch framing {
                case .http1: try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
                case .http2: try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes)))).get()
                }
            } catch {
                return false
            }
            sent += bytes.count
            server.state.withLock { $0.bytesWritten += bytes.count }
            return limit.map { sent < $0 } ?? true
        }

        func writeAll(_ bytes: [UInt8]) async -> Bool {
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + pieceSize)
                guard await write(bytes[offset..<end]) else { return false }
                offset = end
            }
            return true
        }

        var completed = await writeAll(head)
        if completed {
            switch response.body {
            case .bytes(let bytes):
                completed = await writeAll(bytes)
            case .held(let before, let gate, let after):
                completed = await writeAll(before)
                if completed { completed = await gate.wait() }
                if completed { completed = await writeAll(after) }
            case .repeated(let unit, let times):
                // Group units into pieces of about pieceSize to keep writes few.
                let perPiece = max(1, pieceSize / max(1, unit.count))
                let block = Array([[UInt8]](repeating: unit, count: perPiece).joined())
                var remaining = times
                while completed, remaining > 0 {
                    let n = min(perPiece, remaining)
                    completed = await writeAll(n == perPiece ? block : Array(block.prefix(n * unit.count)))
                    remaining -= n
                }
            }
        }
        switch response.fault {
        case .cutAfter:
            try? await channel.close()
            return false
        case .stallAfter:
            return false // keep the socket open, write nothing more
        case nil where framing == .http2:
            if completed { try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get() } else { try? await channel.close() }
            return false // one answer per stream
        case nil:
            if response.raw || !completed {
                // A raw answer may not frame itself for keep-alive: close after it, as its headers permit.
                if !completed { try? await channel.close() }
            }
            return completed
        }
    }
}

extension FakeResponseWriter {
    /// The head of an answer on an HTTP/2 stream. A raw answer (HTTP/1.1 bytes with their own
    /// head) cannot be framed as HTTP/2: the stream gets a 500 that says so.
    private func startHTTP2(_ response: FakeResponse) async -> Bool {
        if response.raw {
            var head = HTTPResponseHead(version: .http2, status: .internalServerError)
            head.headers.add(name: "content-length", value: "0")
            try? await channel.write(HTTPServerResponsePart.head(head)).get()
            try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
            return false
        }
        var head = HTTPResponseHead(version: .http2, status: HTTPResponseStatus(statusCode: response.status, reasonPhrase: response.reason))
        for (name, value) in response.headers { head.headers.add(name: name, value: value) }
        if case .bytes(let bytes) = response.body, !head.headers.contains(name: "content-length") {
            head.headers.add(name: "content-length", value: "\(bytes.count)")
        }
        do {
            try await channel.writeAndFlush(HTTPServerResponsePart.head(head)).get()
            return true
        } catch {
            return false
        }
    }
}
