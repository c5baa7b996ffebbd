import Foundation
import SlipwaySystem

/// Runs a program with an argv array (never a shell string) and collects its output.
public enum Command {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var errors: String
    }

    public struct Failed: Error, CustomStringConvertible {
        public var command: String
        public var result: Result
        public var description: String { "\(command) exited \(result.status): \(result.errors)\(result.output)" }
    }

    /// Runs to completion; throws `Failed` on a non-zero exit unless `check` is false.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           check: Bool = true) throws -> Result {
        let spawned = try Spawn.run(executable, arguments, environment: environment, captureErrors: true)
        let result = Result(status: spawned.status, output: spawned.output.trimmingCharacters(in: .whitespacesAndNewlines),
                            errors: spawned.errors)
        if check && result.status != 0 {
            throw Failed(command: ([executable] + arguments).joined(separator: " "), result: result)
        }
        return result
    }
}

extension Command {
    /// `run` on a thread of its own: a long command (a browser session, a followed log) must not
    /// hold one of the few threads every test's async work shares.
    public static func runDetached(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                                   check: Bool = true) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Swift.Result { try run(executable, arguments, environment: environment, check: check) })
            }.start()
        }
    }
}

/// Scratch folders under the system's temp dir.
public enum Scratch {
    public static func directory(_ prefix: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` now.
    public static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// A TCP port nothing listens on right now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
