import Foundation
import struct NIOCore.ByteBuffer
import struct NIOCore.NIOAsyncChannel
import class NIOPosix.MultiThreadedEventLoopGroup
import class NIOPosix.NIOPipeBootstrap
import Subprocess
import Synchronization
import SystemPackage

/// A child process, started with swift-subprocess and watched until it exits: its pid, the ends
/// of its pipes this process keeps, and its exit status once it has exited.
///
/// Not Foundation's `Process`: on Linux, `Process.run()` finds the descriptors to close in the
/// child by reading `/proc/self/fd`, and copies every entry 256 bytes at a time, past the end of
/// its 32 KiB directory buffer once about 1,365 descriptors are open (valgrind: "0 bytes after a
/// block of size 32,816"). A busy fleetd has that many; the test bundle crashed on it in CI.
/// swift-subprocess closes them with `close_range` and watches the child with a pidfd.
public final class ChildProcess: Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// A pipe; this process keeps the other end (``standardInput`` … ``standardError``).
        case pipe
        /// `/dev/null`.
        case null
        /// This process's own stream.
        case inherit
    }

    /// How a child ended.
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        /// Ended by the signal with this number.
        case signaled(Int32)

        /// What Foundation's `terminationStatus` says: the exit code, or the signal's number.
        public var code: Int32 {
            switch self {
            case .exited(let code), .signaled(let code): code
            }
        }
    }

    public let pid: Int32
    /// This process's ends of the child's pipes (`nil` for a stream that is not ``Stream/pipe``):
    /// its standard input is written, its output and error are read. Closed in deinit, unless
    /// closed before with ``closeInput()`` (the input) or handed to an owner that closes them.
    public let standardInput: FileDescriptor?
    public let standardOutput: FileDescriptor?
    public let standardError: FileDescriptor?
    private let exit: ExitRecord
    private let inputOpen = Mutex(true)

    private init(pid: Int32, ends: [FileDescriptor?], exit: ExitRecord) {
        self.pid = pid
        standardInput = ends[0]
        standardOutput = ends[1]
        standardError = ends[2]
        self.exit = exit
    }

    /// Starts `executable` (a path) with only `environment`, a clean signal mask and default
    /// signal handlers. With `newProcessGroup` it leads a group of its own, which what it starts
    /// joins (``signal(_:group:)`` then reaches them too). `onExit` is called once, with the pid and
    /// ``exitStatus``, when it has exited.
    public static func start(executable: String, arguments: [String], environment: [String: String], directory: String? = nil,
                             newProcessGroup: Bool = false, input: Stream = .null, output: Stream = .null, error: Stream = .null,
                             onExit: @escaping @Sendable (_ pid: Int32, _ status: Int32) async -> Void = { _, _ in }) async throws -> ChildProcess {
        var ours: [FileDescriptor?] = []
        var theirs: [FileDescriptor] = []
        var keepOpen: [Bool] = []
        do {
            for (stream, standard, childReads) in [(input, FileDescriptor.standardInput, true), (output, .standardOutput, false),
                                                   (error, .standardError, false)] {
                switch stream {
                case .pipe:
                    let pipe = try FileDescriptor.pipe()
                    ours.append(childReads ? pipe.writeEnd : pipe.readEnd)
                    theirs.append(childReads ? pipe.readEnd : pipe.writeEnd)
                    keepOpen.append(false)
                case .null:
                    ours.append(nil)
                    theirs.append(try FileDescriptor.open("/dev/null", .readWrite, options: .closeOnExec))
                    keepOpen.append(false)
                case .inherit:
                    ours.append(nil)
                    theirs.append(standard)
                    keepOpen.append(true)
                }
            }
        } catch {
            for (index, end) in theirs.enumerated() where !keepOpen[index] { try? end.close() }
            for case let end? in ours { try? end.close() }
            throw error
        }
        let configuration = Self.configuration(executable: executable, arguments: arguments, environment: environment,
                                               directory: directory, newProcessGroup: newProcessGroup)
        // The pid, handed from the run's body to this call (or the error that kept it from starting).
        let started = FirstResult<Int32>(), exit = ExitRecord()
        let (childInput, childOutput, childError) = (theirs[0], theirs[1], theirs[2])
        let (closeInput, closeOutput, closeError) = (!keepOpen[0], !keepOpen[1], !keepOpen[2])
        // The run lasts as long as the child: its body only hands the pid over, and `run` returns
        // once the child has exited.
        Task.detached {
            do {
                let result = try await Subprocess.run(
                    configuration,
                    input: .fileDescriptor(childInput, closeAfterSpawningProcess: closeInput),
                    output: .fileDescriptor(childOutput, closeAfterSpawningProcess: closeOutput),
                    error: .fileDescriptor(childError, closeAfterSpawningProcess: closeError)
                ) { execution in
                    let pid = execution.processIdentifier.value
                    started.finish(.success(pid))
                    return pid
                }
                let termination = Termination(result.terminationStatus)
                exit.record(termination)
                await onExit(result.closureResult, termination.code)
            } catch {
                started.finish(.failure(error))
            }
        }
        do {
            return ChildProcess(pid: try await started.value(), ends: ours, exit: exit)
        } catch {
            for case let end? in ours { try? end.close() }
            throw error
        }
    }

    /// Runs `executable` to its end and returns its exit status and what it wrote (up to
    /// `limit` bytes of each stream); `input` is its whole standard input.
    public static func run(executable: String, arguments: [String], environment: [String: String], directory: String? = nil,
                           input: [UInt8] = [], limit: Int = 64 << 20) async throws -> (status: Int32, output: [UInt8], error: [UInt8]) {
        let configuration = Self.configuration(executable: executable, arguments: arguments, environment: environment,
                                               directory: directory, newProcessGroup: false)
        let result = try await Subprocess.run(configuration, input: .array(input), output: .bytes(limit: limit), error: .bytes(limit: limit))
        return (Termination(result.terminationStatus).code, result.standardOutput, result.standardError)
    }

    /// swift-subprocess's description of a run: `executable` by path, only `environment`.
    private static func configuration(executable: String, arguments: [String], environment: [String: String], directory: String?,
                                      newProcessGroup: Bool) -> Configuration {
        var options = PlatformOptions()
        if newProcessGroup { options.processGroupID = 0 }
        var variables: [Environment.Key: String] = [:]
        for (name, value) in environment { variables[Environment.Key(stringLiteral: name)] = value }
        return Configuration(executable: .path(FilePath(executable)), arguments: Arguments(arguments), environment: .custom(variables),
                             workingDirectory: directory.map { FilePath($0) }, platformOptions: options)
    }

    public var isRunning: Bool { exit.termination == nil }

    /// How it ended, once it has exited (and been reaped), else `nil`.
    public var termination: Termination? { exit.termination }

    /// Its exit status once it has exited, else `nil`: the code it exited with, or the number
    /// of the signal that ended it.
    public var exitStatus: Int32? { exit.termination?.code }

    /// Waits until it has exited; returns how.
    public func waitForExit() async -> Termination {
        await exit.wait()
    }

    /// Sends signal `number` to it, or with `group` to its process group (it must lead one).
    public func signal(_ number: Int32, group: Bool = false) {
        _ = kill(group ? -pid : pid, number)
    }

    /// Hands what the child writes to its standard error (started with ``Stream/pipe``) to
    /// `each`, chunk by chunk as it arrives, to its end; the end is told once, as an empty chunk.
    ///
    /// Read by a NIO pipe channel on a copy of the descriptor. Not Foundation's readability
    /// handler: its Dispatch source missed the end of a pipe now and then (the last chunk and the
    /// end arriving together), so a last line without a newline was never handed over.
    public func readStandardError(_ each: @escaping @Sendable (Data) -> Void) {
        guard let descriptor = standardError else { return }
        let copy = dup(descriptor.rawValue) // NIO owns and closes the copy; this object closes its own
        guard copy >= 0 else {
            each(Data())
            return
        }
        Task {
            defer { each(Data()) }
            let channel: NIOAsyncChannel<ByteBuffer, Never>
            do {
                channel = try await NIOPipeBootstrap(group: Self.readers)
                    .takingOwnershipOfDescriptor(input: copy) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, Never>(wrappingChannelSynchronously: channel)
                        }
                    }
            } catch {
                _ = close(copy) // not taken: still ours
                return
            }
            // Ends at the end of the pipe (NIO closes the copy), or when reading fails.
            try? await channel.executeThenClose { inbound, _ in
                for try await buffer in inbound { each(Data(buffer.readableBytesView)) }
            }
        }
    }

    /// The event loop every child's standard error is read on: a thread of its own, so that a
    /// chatty child (or fleetd's own at debug level, in the tests) never holds up the loops that
    /// serve HTTP, nor they its log.
    private static let readers = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Closes ``standardInput`` (the child reads its end); once only.
    public func closeInput() {
        let wasOpen = inputOpen.withLock { open in
            defer { open = false }
            return open
        }
        if wasOpen { try? standardInput?.close() }
    }

    deinit {
        closeInput()
        try? standardOutput?.close()
        try? standardError?.close()
    }
}

extension ChildProcess.Termination {
    init(_ status: TerminationStatus) {
        switch status {
        case .exited(let code): self = .exited(code)
        case .signaled(let signal): self = .signaled(signal)
        }
    }
}

/// How a process ended, once it has, and the callers waiting for it.
private final class ExitRecord: Sendable {
    private struct State {
        var termination: ChildProcess.Termination?
        var waiters: [CheckedContinuation<ChildProcess.Termination, Never>] = []
    }
    private let state = Mutex(State())

    var termination: ChildProcess.Termination? { state.withLock { $0.termination } }

    func record(_ termination: ChildProcess.Termination) {
        let waiters = state.withLock { state in
            state.termination = termination
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: termination) }
    }

    func wait() async -> ChildProcess.Termination {
        await withCheckedContinuation { continuation in
            let known = state.withLock { state -> ChildProcess.Termination? in
                if state.termination == nil { state.waiters.append(continuation) }
                return state.termination
            }
            if let known { continuation.resume(returning: known) }
        }
    }
}
