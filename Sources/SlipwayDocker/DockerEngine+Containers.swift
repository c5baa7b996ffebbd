import Foundation
import NIOCore

/// What Slipway asks of a container.
public struct ContainerSpec: Sendable, Hashable {
    public var name: String
    public var image: String
    public var env: [String: String]
    public var labels: [String: String]
    public var network: String?
    /// `no`, `on-failure`, `unless-stopped`, `always`.
    public var restartPolicy: String
    /// The port the container listens on (exposed; published by the network it joins).
    public var port: Int?
    public var healthCheck: HealthCheckSpec?
    /// Replaces the image's CMD when set.
    public var command: [String]?

    public struct HealthCheckSpec: Sendable, Hashable {
        /// `["CMD-SHELL", line]` or `["CMD", program, args…]`.
        public var test: [String]
        public var interval: Duration
        public var timeout: Duration
        public var retries: Int
        public var startPeriod: Duration

        public init(test: [String], interval: Duration, timeout: Duration, retries: Int, startPeriod: Duration) {
            self.test = test
            self.interval = interval
            self.timeout = timeout
            self.retries = retries
            self.startPeriod = startPeriod
        }
    }

    public init(name: String, image: String, env: [String: String], labels: [String: String],
                network: String?, restartPolicy: String, port: Int? = nil, healthCheck: HealthCheckSpec? = nil,
                command: [String]? = nil) {
        self.command = command
        self.port = port
        self.healthCheck = healthCheck
        self.name = name
        self.image = image
        self.env = env
        self.labels = labels
        self.network = network
        self.restartPolicy = restartPolicy
    }
}

/// A container as the engine reports it.
public struct ContainerState: Sendable, Hashable {
    public var id: String
    public var name: String
    public var labels: [String: String]
    /// `created`, `running`, `restarting`, `exited`, `dead`, …
    public var status: String
    public var exitCode: Int
    public var oomKilled: Bool
    public var startedAt: Date?
    public var finishedAt: Date?
    public var error: String
}

extension DockerEngine {
    public func createContainer(_ spec: ContainerSpec) async throws -> String {
        struct Create: Encodable {
            struct Restart: Encodable { var Name: String }
            struct Host: Encodable {
                var NetworkMode: String?
                var RestartPolicy: Restart
            }
            struct Health: Encodable {
                var Test: [String]
                var Interval: Int64
                var Timeout: Int64
                var Retries: Int
                var StartPeriod: Int64
            }
            struct Empty: Encodable {}
            var Image: String
            var Cmd: [String]?
            var Env: [String]
            var Labels: [String: String]
            var ExposedPorts: [String: Empty]?
            var Healthcheck: Health?
            var HostConfig: Host
        }
        func nanoseconds(_ d: Duration) -> Int64 { d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000 }
        struct Created: Decodable { var Id: String }
        let body = Create(Image: spec.image, Cmd: spec.command, Env: spec.env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
                          Labels: spec.labels,
                          ExposedPorts: spec.port.map { ["\($0)/tcp": Create.Empty()] },
                          Healthcheck: spec.healthCheck.map { .init(Test: $0.test, Interval: nanoseconds($0.interval),
                                                                    Timeout: nanoseconds($0.timeout), Retries: $0.retries,
                                                                    StartPeriod: nanoseconds($0.startPeriod)) },
                          HostConfig: .init(NetworkMode: spec.network, RestartPolicy: .init(Name: spec.restartPolicy)))
        return try await decode(Created.self, .POST, "/containers/create", query: [("name", spec.name)], json: body).Id
    }

    public func startContainer(_ id: String) async throws {
        do {
            try await call(.POST, "/containers/\(id)/start")
        } catch let error as DockerError where error.status == 304 {
            return  // already running
        }
    }

    public func stopContainer(_ id: String, timeoutSeconds: Int = 10) async throws {
        do {
            try await call(.POST, "/containers/\(id)/stop", query: [("t", "\(timeoutSeconds)")],
                           timeout: .seconds(Int64(timeoutSeconds) + 30))
        } catch let error as DockerError where error.status == 304 || error.isNotFound {
            return  // already stopped or gone
        }
    }

    public func removeContainer(_ id: String) async throws {
        do {
            try await call(.DELETE, "/containers/\(id)", query: [("force", "1"), ("v", "1")])
        } catch let error as DockerError where error.isNotFound {
            return
        }
    }

    public func setRestartPolicy(_ id: String, _ policy: String) async throws {
        struct Update: Encodable {
            struct Restart: Encodable { var Name: String }
            var RestartPolicy: Restart
        }
        try await call(.POST, "/containers/\(id)/update", json: Update(RestartPolicy: .init(Name: policy)))
    }

    public func inspectContainer(_ id: String) async throws -> ContainerState {
        struct Inspect: Decodable {
            struct State: Decodable {
                var Status: String
                var ExitCode: Int
                var OOMKilled: Bool
                var Error: String?
                var StartedAt: String?
                var FinishedAt: String?
            }
            struct Config: Decodable { var Labels: [String: String]? }
            var Id: String
            var Name: String
            var State: State
            var Config: Config
        }
        let c = try await decode(Inspect.self, .GET, "/containers/\(id)/json")
        return ContainerState(id: c.Id, name: String(c.Name.drop(while: { $0 == "/" })), labels: c.Config.Labels ?? [:],
                              status: c.State.Status, exitCode: c.State.ExitCode, oomKilled: c.State.OOMKilled,
                              startedAt: DockerTime.parse(c.State.StartedAt), finishedAt: DockerTime.parse(c.State.FinishedAt),
                              error: c.State.Error ?? "")
    }

    /// Ids of containers (running or not) carrying all `labels`.
    public func containers(labels: [String: String]) async throws -> [String] {
        struct Summary: Decodable { var Id: String }
        let filters = ["label": labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }]
        let filterJSON = String(decoding: try JSONEncoder().encode(filters), as: UTF8.self)
        return try await decode([Summary].self, .GET, "/containers/json", query: [("all", "1"), ("filters", filterJSON)]).map(\.Id)
    }

    /// Names of the engine's networks.
    public func networks() async throws -> [String] {
        struct Network: Decodable { var Name: String }
        return try await decode([Network].self, .GET, "/networks").map(\.Name)
    }

    /// The last `tail` lines of stdout and stderr, interleaved as written.
    public func logs(_ id: String, tail: Int) async throws -> [String] {
        let data = try await call(.GET, "/containers/\(id)/logs", query: [("stdout", "1"), ("stderr", "1"), ("tail", "\(tail)")])
        return DockerLogFrames.lines(data)
    }
}

/// The engine's timestamps: RFC 3339 with nanoseconds; the zero time means "never".
enum DockerTime {
    static func parse(_ text: String?) -> Date? {
        guard let text, !text.hasPrefix("0001-01-01") else { return nil }
        // Foundation parses at most milliseconds; cut the fraction down.
        var trimmed = text
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let fraction = text[text.index(after: dot)..<zone].prefix(3)
            trimmed = String(text[..<dot]) + "." + fraction + String(text[zone...])
        }
        if let date = try? Date(trimmed, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(trimmed, strategy: Date.ISO8601FormatStyle())
    }
}

/// Container logs without a TTY arrive in frames: 1 byte stream, 3 zero bytes,
/// 4 bytes big-endian length, then the payload.
public enum DockerLogFrames {
    public static func lines(_ data: Data) -> [String] {
        var text = ""
        var index = data.startIndex
        var framed = true
        while index < data.endIndex {
            guard data.endIndex - index >= 8, [0, 1, 2].contains(data[index]),
                  data[index + 1] == 0, data[index + 2] == 0, data[index + 3] == 0 else {
                framed = false
                break
            }
            let length = data[(index + 4)..<(index + 8)].reduce(0) { $0 << 8 | Int($1) }
            let start = index + 8
            let end = min(start + length, data.endIndex)
            text += String(decoding: data[start..<end], as: UTF8.self)
            index = end
        }
        if !framed { text = String(decoding: data, as: UTF8.self) }
        return text.lines
    }
}

extension String {
    /// Lines split at \n or \r\n (a single Character in Swift), without a trailing empty line.
    public var lines: [String] {
        var lines = split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
