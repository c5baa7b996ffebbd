/// One service as a policy file declares it (format v1). Values here are already
/// validated; `SlipwayPolicy` turns YAML into this and reports what is wrong.
public struct Policy: Sendable, Hashable, Codable {
    public var service: String
    public var source: Source
    public var build: Build
    public var image: String
    public var deploy: Deploy
    public var rollback: Rollback
    public var previews: Previews

    public init(service: String, source: Source, build: Build = Build(), image: String,
                deploy: Deploy = Deploy(), rollback: Rollback = Rollback(), previews: Previews = Previews()) {
        self.service = service
        self.source = source
        self.build = build
        self.image = image
        self.deploy = deploy
        self.rollback = rollback
        self.previews = previews
    }

    public struct Source: Sendable, Hashable, Codable {
        public var repo: String
        public var branch: String
        public var paths: [String]
        public var poll: TimeSpan?

        public init(repo: String, branch: String = "main", paths: [String] = [], poll: TimeSpan? = nil) {
            self.repo = repo
            self.branch = branch
            self.paths = paths
            self.poll = poll
        }
    }

    public struct Build: Sendable, Hashable, Codable {
        public var context: String
        /// Relative to `context`; nil asks for zero-config detection.
        public var dockerfile: String?
        public var args: [String: String]
        public var timeout: TimeSpan

        public static let defaultTimeout = TimeSpan.minutes(20)

        public init(context: String = ".", dockerfile: String? = nil, args: [String: String] = [:],
                    timeout: TimeSpan = defaultTimeout) {
            self.context = context
            self.dockerfile = dockerfile
            self.args = args
            self.timeout = timeout
        }
    }

    public enum Target: String, Sendable, Hashable, Codable, CaseIterable {
        case docker
        case ecs
    }

    public struct Deploy: Sendable, Hashable, Codable {
        public var target: Target
        public var count: Int
        public var env: [String: String]

        public init(target: Target = .docker, count: Int = 1, env: [String: String] = [:]) {
            self.target = target
            self.count = count
            self.env = env
        }
    }

    public struct Rollback: Sendable, Hashable, Codable {
        public var window: TimeSpan
        public var crashes: Int

        public init(window: TimeSpan = .seconds(60), crashes: Int = 1) {
            self.window = window
            self.crashes = crashes
        }
    }

    public struct Previews: Sendable, Hashable, Codable {
        public var enabled: Bool
        public init(enabled: Bool = false) { self.enabled = enabled }
    }
}

extension Policy {
    /// Service names: `[a-z][a-z0-9-]{0,39}`.
    public static func isValidServiceName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLowercase, name.count <= 40 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }
}
