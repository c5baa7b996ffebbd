import Foundation

/// A private instance of deploy/local/scm-standin.py: the GitHub, GitLab and Bitbucket APIs as
/// their official contracts describe them, checking every request Slipway sends. Each test
/// gets its own, so faults and state stay its own.
public final class SourceHostStandIn: @unchecked Sendable {
    public let url: String
    let process: Process

    /// `tokens` by provider (`github`, `gitlab`, `bitbucket`, `bitbucket-server`): what each accepts.
    public init(tokens: [String: String], environment extra: [String: String] = [:]) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["SLIPWAY_STANDIN_TOKENS"] = String(decoding: try JSONSerialization.data(withJSONObject: tokens), as: UTF8.self)
        environment.merge(extra) { $1 }
        (process, url) = try LocalServer.start(script: "scm-standin.py", arguments: [], environment: environment,
                                               health: "_standin/health", what: "the source-host stand-in")
    }

    deinit { stop() }

    public func stop() {
        guard process.isRunning else { return }
        // SLIPWAY_STANDIN_DUMP=DIR keeps what Slipway sent, to read after the run.
        if let dump = ProcessInfo.processInfo.environment["SLIPWAY_STANDIN_DUMP"], let data = try? Self.get("\(url)/_standin/requests") {
            try? FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
            try? data.write(to: URL(fileURLWithPath: "\(dump)/requests-\(UUID().uuidString.prefix(8)).json"))
        }
        process.terminate()
    }

    /// Every request it saw, in order; `provider` and `operation` narrow it.
    public func requests(provider: String? = nil, operation: String? = nil) throws -> [[String: Any]] {
        var query: [String] = []
        if let provider { query.append("provider=\(provider)") }
        if let operation { query.append("operation=\(operation.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? operation)") }
        let data = try Self.get("\(url)/_standin/requests\(query.isEmpty ? "" : "?" + query.joined(separator: "&"))")
        let object = try JSONSerialization.jsonObject(with: data)
        if let list = object as? [[String: Any]] { return list }
        return (object as? [String: Any])?["requests"] as? [[String: Any]] ?? []
    }

    /// Makes matching requests fail (see scm-standin.py: `status`, `count` or `seconds`, `retry_after`, …).
    public func fault(_ fault: [String: Any]) throws {
        _ = try Self.send("POST", "\(url)/_standin/faults", body: try JSONSerialization.data(withJSONObject: fault))
    }

    /// Ends every injected fault: the provider is back.
    public func clearFaults() throws {
        _ = try Self.send("DELETE", "\(url)/_standin/faults", body: nil)
    }

    public func configure(_ settings: [String: Any]) throws {
        _ = try Self.send("POST", "\(url)/_standin/config", body: try JSONSerialization.data(withJSONObject: settings))
    }

    static func get(_ url: String) throws -> Data { try send("GET", url, body: nil) }

    /// A blocking exchange through curl: test code, loopback only.
    static func send(_ method: String, _ url: String, body: Data?) throws -> Data {
        var arguments = ["-sS", "-f", "-X", method, url]
        let dir = try Scratch.directory("standin-call")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if let body {
            try body.write(to: URL(fileURLWithPath: "\(dir)/body"))
            arguments += ["-H", "Content-Type: application/json", "--data-binary", "@\(dir)/body"]
        }
        let result = try Command.run("/usr/bin/curl", arguments)
        return Data(result.output.utf8)
    }
}

public struct StandInError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
