import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs an external command (an argv array, no shell) and hands over its output line by
/// line while it runs. Cancelling the calling task ends the command: SIGTERM, then SIGKILL
/// after `grace`. Standard output and error arrive merged, in order.
public protocol CommandRunner: Sendable {
    func run(_ executable: String, _ arguments: [String], environment: [String: String],
             onLine: @escaping @Sendable (String) async -> Void) async throws -> Int32
}

public struct StreamingProcess: CommandRunner {
    public let grace: Duration

    public init(grace: Duration = .seconds(5)) { self.grace = grace }

    public struct NotFound: Error, CustomStringConvertible {
        public var executable: String
        public var description: String { "\(executable) could not be started: is it installed and on PATH?" }
    }

    /// Pipe creation and spawning are serialized in this process: between pipe() and its
    /// close-on-exec flag, another spawn would inherit the write end and hold the output open.
    private static let spawning = Mutex(())

    public func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    onLine: @escaping @Sendable (String) async -> Void) async throws -> Int32 {
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let (pid, reader) = try Self.spawning.withLock { _ in try Self.spawn(executable, arguments, environment: merged) }
        let reaped = Mutex(false)
        // The reader thread reads to end-of-file, then reaps: nothing here blocks the task pool.
        let status = Mutex<Int32?>(nil)
        let waiters = Mutex<CheckedContinuation<Int32, Never>?>(nil)
        let lines = AsyncStream<String> { continuation in
            Thread.detachNewThread {
                var pending = Data()
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let n = read(reader, &buffer, buffer.count)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { break }
                    pending.append(contentsOf: buffer[0..<n])
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        continuation.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                        pending = Data(pending[pending.index(after: newline)...])
                    }
                }
                if !pending.isEmpty { continuation.yield(String(decoding: pending, as: UTF8.self)) }
                close(reader)
                continuation.finish()
                let code = Self.wait(pid)
                reaped.withLock { $0 = true }
                let waiter = waiters.withLock { waiter -> CheckedContinuation<Int32, Never>? in
                    status.withLock { $0 = code }
                    defer { waiter = nil }
                    return waiter
                }
                waiter?.resume(returning: code)
            }
        }
        let grace = self.grace
        return await withTaskCancellationHandler {
            for await line in lines { await onLine(line) }
            return await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
                let done = waiters.withLock { waiter -> Int32? in
                    if let code = status.withLock({ $0 }) { return code }
                    waiter = continuation
                    return nil
                }
                if let done { continuation.resume(returning: done) }
            }
        } onCancel: {
            kill(-pid, SIGTERM)
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18)
                // Only a group that is still ours: once reaped, its id may belong to someone else.
                if !reaped.withLock({ $0 }) { kill(-pid, SIGKILL) }
            }
        }
    }

    /// Starts the command in its own process group with standard output and error on one pipe.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> (pid_t, Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0, fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group: the whole tree it starts is signalled together.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            throw NotFound(executable: executable)
        }
        return (pid, fds[0])
    }

    /// Exit status, or 128 + signal.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
