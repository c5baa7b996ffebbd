import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion with posix_spawn and waitpid, capturing what it writes.
///
/// Foundation's Process leaks pipe ends into the child (so a daemon the child starts,
/// like Postgres, keeps the caller waiting for end-of-file forever) and can miss a
/// child's exit when called from the main actor. Here the pipes are close-on-exec: only
/// the child's own standard output and error point at them.
public enum Spawn {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        /// Empty when standard error passed through.
        public var errors: String
    }

    /// - Parameters:
    ///   - environment: added to (and overriding) this process's environment.
    ///   - captureErrors: capture standard error too; otherwise it passes through to ours.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           captureErrors: Bool = false) throws -> Result {
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        guard closeOnExecPipe(&out), !captureErrors || closeOnExecPipe(&err) else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO)
        if captureErrors { posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO) }

        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(out[1])
        if captureErrors { close(err[1]) }
        guard spawned == 0 else {
            close(out[0])
            if captureErrors { close(err[0]) }
            throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO)
        }
        let (output, errors) = readAll(out[0], captureErrors ? err[0] : nil)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exitCode, output: String(decoding: output, as: UTF8.self),
                      errors: String(decoding: errors, as: UTF8.self))
    }

    /// pipe2(O_CLOEXEC) is not visible from Swift here; set the flag right after.
    private static func closeOnExecPipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        return fds.allSatisfy { fcntl($0, F_SETFD, FD_CLOEXEC) == 0 }
    }

    /// Reads both pipes to end-of-file together, so neither fills up and stalls the child.
    private static func readAll(_ first: Int32, _ second: Int32?) -> (Data, Data) {
        var data: [Int32: Data] = [first: Data()]
        var open = [first]
        if let second { data[second] = Data(); open.append(second) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 || errno == EINTR else { break }
            for entry in fds where entry.revents != 0 {
                let n = read(entry.fd, &buffer, buffer.count)
                if n > 0 {
                    data[entry.fd]!.append(contentsOf: buffer[0..<n])
                } else if n == 0 || errno != EINTR {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        return (data[first]!, second.map { data[$0]! } ?? Data())
    }
}
