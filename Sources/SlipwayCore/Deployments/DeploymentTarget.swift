/// Where a deployment runs: one copy of a service. A service's `main` environment is what
/// its policy's branch deploys; a pull request's preview is another environment of the same
/// service. Identity for everything that must not mix the two: the live pointer, the
/// rollout lock, latest-wins, runtime names and labels, retention and the reconciler.
public struct DeploymentTarget: Sendable, Hashable, Codable, CustomStringConvertible {
    public var service: String
    public var environment: Environment

    public init(service: String, environment: Environment = .main) {
        self.service = service
        self.environment = environment
    }

    public static func main(_ service: String) -> DeploymentTarget { DeploymentTarget(service: service) }

    public enum Environment: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
        /// What the policy's branch deploys.
        case main
        /// The preview of pull (merge) request N.
        case pullRequest(Int)

        /// `main` or `pr-N`: the stored form and the label value.
        public var rawValue: String {
            switch self {
            case .main: "main"
            case .pullRequest(let number): "pr-\(number)"
            }
        }

        public init?(rawValue: String) {
            if rawValue == "main" {
                self = .main
            } else if rawValue.hasPrefix("pr-"), let number = Int(rawValue.dropFirst(3)), number > 0, "\(number)" == rawValue.dropFirst(3) {
                // Written back exactly: no sign, no leading zero.
                self = .pullRequest(number)
            } else {
                return nil
            }
        }

        public var description: String { rawValue }

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let value = Environment(rawValue: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "environment `\(text)` is neither `main` nor `pr-N`"))
            }
            self = value
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }

        public static func < (a: Environment, b: Environment) -> Bool {
            switch (a, b) {
            case (.main, .pullRequest): true
            case (.pullRequest(let x), .pullRequest(let y)): x < y
            default: false
            }
        }
    }

    /// What the runtime calls this copy: the service's own name for `main` (so names stay
    /// what they were before environments), `SERVICE-pr-N` for a preview.
    public var runtimeName: String {
        switch environment {
        case .main: service
        case .pullRequest(let number): "\(service)-pr-\(number)"
        }
    }

    /// `web`, or `web (pr-12)` in messages.
    public var description: String {
        environment == .main ? service : "\(service) (\(environment.rawValue))"
    }

    /// The advisory-lock key of its rollouts, watch steps and rollbacks.
    public var lockKey: String { "slipway.target:\(service)/\(environment.rawValue)" }
}
