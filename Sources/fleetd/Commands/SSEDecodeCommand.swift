import ArgumentParser
import Foundation

/// `fleetd sse …`: tools for looking at server-sent event streams.
struct SSECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sse",
        abstract: "Server-sent event stream tools.",
        subcommands: [SSEDecodeCommand.self]
    )
}

/// `fleetd sse decode [FILE]`: prints each event of a stream as one JSON line.
struct SSEDecodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode an event stream (from FILE or standard input) into JSON lines.",
        discussion: """
        Prints each dispatched event as {"event":…,"data":…,"id":…} (id is the last event id in force), \
        then {"retry":N} if a valid retry field was seen. An unterminated last event is not printed, \
        as a browser would not dispatch it.
        """
    )

    @Argument(help: "The file to read; standard input when omitted.")
    var file: String?

    /// Writes lines to standard output at once (unbuffered, so a live stream shows up as it comes).
    private func emit(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8))
    }

    func run() async throws {
        let handle: FileHandle
        if let file {
            guard let opened = FileHandle(forReadingAtPath: file) else {
                FileHandle.standardError.write(Data("fleetd sse decode: cannot open '\(file)' for reading\n".utf8))
                throw ExitCode(1)
            }
            handle = opened
        } else {
            handle = FileHandle.standardInput
        }
        var formatter = SSEDecodeFormatter()
        while true {
            let chunk: Data
            do {
                guard let read = try handle.read(upToCount: 64 * 1024), !read.isEmpty else { break }
                chunk = read
            } catch {
                let message = "fleetd sse decode: cannot read '\(file ?? "standard input")': \(error.localizedDescription)\n"
                FileHandle.standardError.write(Data(message.utf8))
                throw ExitCode(1)
            }
            emit(formatter.feed(chunk))
        }
        emit(formatter.finish())
    }
}
