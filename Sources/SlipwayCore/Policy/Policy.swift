/// One service as a policy file declares it (format v1, docs/policies.md). Values here
/// are already validated; `SlipwayPolicy` turns YAML into this and reports what is wrong.
/// Stored as JSON with every deployment: decoding fills keys added after a row was
/// written with their defaults, so older rows stay readable.
public struct Policy: Sendable, Hashable, Codable {
    public var service: String
    public var source: Source
    public var build: Build
    public var image: String
    /// The login for `image`'s registry (its value is `user:password`); nil: the server's
    /// own (~/.docker/config.json, or ECR's from AWS).
    public var imageCredentials: SecretReference?
    public var deploy: Deploy
    public var rollback: Rollback
    public var previews: Previews
    public var sync: Sync
    /// Where this service's notifications go; nil: the server's default (SLIPWAY_NOTIFY), [] none.
    public var notify: [NotifyChannel]?

    public init(service: String, source: Source, build: Build = Build(), image: String,
                deploy: Deploy = Deploy(), rollback: Rollback = Rollback(), previews: Previews = Previews(),
                sync: Sync = Sync(), imageCredentials: SecretReference? = nil, notify: [NotifyChannel]? = nil) {
        self.notify = notify
        self.imageCredentials = imageCredentials
        self.service = service
        self.source = source
        self.build = build
        self.image = image
        self.deploy = deploy
        self.rollback = rollback
        self.previews = previews
        self.sync = sync
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(String.self, forKey: .service)
        source = try c.decode(Source.self, forKey: .source)
        build = try c.decodeIfPresent(Build.self, forKey: .build) ?? Build()
        image = try c.decode(String.self, forKey: .image)
        imageCredentials = try c.decodeIfPresent(SecretReference.self, forKey: .imageCredentials)
        deploy = try c.decodeIfPresent(Deploy.self, forKey: .deploy) ?? Deploy()
        rollback = try c.decodeIfPresent(Rollback.self, forKey: .rollback) ?? Rollback()
        previews = try c.decodeIfPresent(Previews.self, forKey: .previews) ?? Previews()
        sync = try c.decodeIfPresent(Sync.self, forKey: .sync) ?? Sync()
        notify = try c.decodeIfPresent([NotifyChannel].self, forKey: .notify)
    }

    public struct Source: Sendable, Hashable, Codable {
        public var repo: String
        public var branch: String
        public var paths: [String]
        public var poll: TimeSpan?
        /// Token, `user:password`, SSH key or GitHub App for fetching; a reference, never the secret.
        public var credentials: SecretReference?
        /// The passphrase of an SSH key in `credentials`.
        public var keyPassphrase: SecretReference?
        /// `known_hosts` lines the ssh server's host key must be among (added to SLIPWAY_SSH_KNOWN_HOSTS').
        public var knownHosts: String?
        /// The repository's own webhook secret: only deliveries signed with it deploy the service
        /// (the provider-wide SLIPWAY_WEBHOOK_SECRET_* no longer does).
        public var webhookSecret: SecretReference?

        public init(repo: String, branch: String = "main", paths: [String] = [], poll: TimeSpan? = nil,
                    credentials: SecretReference? = nil, webhookSecret: SecretReference? = nil) {
            self.webhookSecret = webhookSecret
            self.repo = repo
            self.branch = branch
            self.paths = paths
            self.poll = poll
            self.credentials = credentials
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            repo = try c.decode(String.self, forKey: .repo)
            branch = try c.decodeIfPresent(String.self, forKey: .branch) ?? "main"
            paths = try c.decodeIfPresent([String].self, forKey: .paths) ?? []
            poll = try c.decodeIfPresent(TimeSpan.self, forKey: .poll)
            credentials = try c.decodeIfPresent(SecretReference.self, forKey: .credentials)
            keyPassphrase = try c.decodeIfPresent(SecretReference.self, forKey: .keyPassphrase)
            knownHosts = try c.decodeIfPresent(String.self, forKey: .knownHosts)
            webhookSecret = try c.decodeIfPresent(SecretReference.self, forKey: .webhookSecret)
        }
    }

    public struct Build: Sendable, Hashable, Codable {
        public var context: String
        /// Relative to `context`; nil asks for zero-config detection.
        public var dockerfile: String?
        public var args: [String: String]
        /// BuildKit secret id → where its value lives.
        public var secrets: [String: SecretReference]
        /// The Dockerfile stage to build; nil builds the last one.
        public var target: String?
        public var timeout: TimeSpan
        public var cache: Bool
        /// Zero-config builds: tool or role → image (`{version}` replaced); see `BaseImageDefaults`.
        public var baseImages: [String: String]
        /// The platform to build for (`linux/arm64`); nil: the builder's own.
        public var platform: String?

        public static let defaultTimeout = TimeSpan.minutes(20)

        public init(context: String = ".", dockerfile: String? = nil, args: [String: String] = [:],
                    secrets: [String: SecretReference] = [:], target: String? = nil,
                    timeout: TimeSpan = defaultTimeout, cache: Bool = true, baseImages: [String: String] = [:],
                    platform: String? = nil) {
            self.baseImages = baseImages
            self.platform = platform
            self.context = context
            self.dockerfile = dockerfile
            self.args = args
            self.secrets = secrets
            self.target = target
            self.timeout = timeout
            self.cache = cache
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            context = try c.decodeIfPresent(String.self, forKey: .context) ?? "."
            dockerfile = try c.decodeIfPresent(String.self, forKey: .dockerfile)
            args = try c.decodeIfPresent([String: String].self, forKey: .args) ?? [:]
            secrets = try c.decodeIfPresent([String: SecretReference].self, forKey: .secrets) ?? [:]
            target = try c.decodeIfPresent(String.self, forKey: .target)
            timeout = try c.decodeIfPresent(TimeSpan.self, forKey: .timeout) ?? Self.defaultTimeout
            cache = try c.decodeIfPresent(Bool.self, forKey: .cache) ?? true
            baseImages = try c.decodeIfPresent([String: String].self, forKey: .baseImages) ?? [:]
            platform = try c.decodeIfPresent(String.self, forKey: .platform)
        }
    }

    public enum Target: String, Sendable, Hashable, Codable, CaseIterable {
        case docker
        case ecs
    }

    public struct Deploy: Sendable, Hashable, Codable {
        public var target: Target
        public var count: Int
        public var port: Int?
        public var env: [String: String]
        public var healthCheck: HealthCheck?
        /// Docker target: the engine network; nil uses SLIPWAY_DOCKER_NETWORK.
        public var network: String?
        /// Set exactly when `target` is `.ecs`.
        public var ecs: ECS?

        public init(target: Target = .docker, count: Int = 1, port: Int? = nil, env: [String: String] = [:],
                    healthCheck: HealthCheck? = nil, network: String? = nil, ecs: ECS? = nil) {
            self.target = target
            self.count = count
            self.port = port
            self.env = env
            self.healthCheck = healthCheck
            self.network = network
            self.ecs = ecs
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            target = try c.decodeIfPresent(Target.self, forKey: .target) ?? .docker
            count = try c.decodeIfPresent(Int.self, forKey: .count) ?? 1
            port = try c.decodeIfPresent(Int.self, forKey: .port)
            env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
            healthCheck = try c.decodeIfPresent(HealthCheck.self, forKey: .healthCheck)
            network = try c.decodeIfPresent(String.self, forKey: .network)
            ecs = try c.decodeIfPresent(ECS.self, forKey: .ecs)
        }
    }

    public struct HealthCheck: Sendable, Hashable, Codable {
        /// As the engine and ECS take it: `["CMD-SHELL", "…"]` or `["CMD", prog, args…]`.
        public var command: [String]
        public var interval: TimeSpan
        public var timeout: TimeSpan
        public var retries: Int
        public var startPeriod: TimeSpan

        public init(command: [String], interval: TimeSpan = .seconds(30), timeout: TimeSpan = .seconds(5),
                    retries: Int = 3, startPeriod: TimeSpan = .seconds(0)) {
            self.command = command
            self.interval = interval
            self.timeout = timeout
            self.retries = retries
            self.startPeriod = startPeriod
        }
    }

    public enum LaunchType: String, Sendable, Hashable, Codable, CaseIterable {
        case fargate = "FARGATE"
        case ec2 = "EC2"
        case external = "EXTERNAL"
    }

    /// Settings of the `ecs` target.
    public struct ECS: Sendable, Hashable, Codable {
        public var cluster: String
        /// The ECS service name; nil means the policy's service name.
        public var service: String?
        /// nil when a capacity provider is named instead.
        public var launchType: LaunchType?
        public var capacityProvider: String?
        public var cpu: Int
        public var memory: Int
        /// Environment variable → Secrets Manager or SSM parameter ARN (ECS resolves it).
        public var secrets: [String: String]
        public var executionRoleArn: String?
        public var taskRoleArn: String?
        public var subnets: [String]
        public var securityGroups: [String]
        public var assignPublicIp: Bool
        public var logGroup: String?

        public init(cluster: String, service: String? = nil, launchType: LaunchType? = .fargate,
                    capacityProvider: String? = nil, cpu: Int = 256, memory: Int = 512,
                    secrets: [String: String] = [:], executionRoleArn: String? = nil, taskRoleArn: String? = nil,
                    subnets: [String] = [], securityGroups: [String] = [], assignPublicIp: Bool = false,
                    logGroup: String? = nil) {
            self.cluster = cluster
            self.service = service
            self.launchType = launchType
            self.capacityProvider = capacityProvider
            self.cpu = cpu
            self.memory = memory
            self.secrets = secrets
            self.executionRoleArn = executionRoleArn
            self.taskRoleArn = taskRoleArn
            self.subnets = subnets
            self.securityGroups = securityGroups
            self.assignPublicIp = assignPublicIp
            self.logGroup = logGroup
        }

        /// Fargate tasks: a Fargate launch type, or a FARGATE/FARGATE_SPOT capacity provider.
        public var isFargate: Bool {
            if let capacityProvider { return capacityProvider.hasPrefix("FARGATE") }
            return launchType == .fargate
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
        /// A preview with no new commit for this long is torn down.
        public var ttl: TimeSpan
        /// Previews at once; the oldest goes first.
        public var count: Int
        /// Overrides `deploy.env` in previews.
        public var env: [String: String]
        /// Whether a pull request whose head lives in another repository (a fork) is built.
        public var forks: Bool
        /// Whether fork builds get the service's build args and secrets (and ECS secrets);
        /// without it a fork's code never sees them.
        public var forkSecrets: Bool
        /// Where a preview answers: a template with `{number}`, `{service}`, `{branch}`.
        public var url: String?
        /// ECS: a host-header rule and target group per preview on this listener.
        public var loadBalancer: LoadBalancer?

        public init(enabled: Bool = false, ttl: TimeSpan = .seconds(72 * 3600), count: Int = 5, env: [String: String] = [:],
                    forks: Bool = false, forkSecrets: Bool = false, url: String? = nil, loadBalancer: LoadBalancer? = nil) {
            self.enabled = enabled
            self.ttl = ttl
            self.count = count
            self.env = env
            self.forks = forks
            self.forkSecrets = forkSecrets
            self.url = url
            self.loadBalancer = loadBalancer
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Previews()
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? defaults.enabled
            ttl = try c.decodeIfPresent(TimeSpan.self, forKey: .ttl) ?? defaults.ttl
            count = try c.decodeIfPresent(Int.self, forKey: .count) ?? defaults.count
            env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? defaults.env
            forks = try c.decodeIfPresent(Bool.self, forKey: .forks) ?? false
            forkSecrets = try c.decodeIfPresent(Bool.self, forKey: .forkSecrets) ?? false
            url = try c.decodeIfPresent(String.self, forKey: .url)
            loadBalancer = try c.decodeIfPresent(LoadBalancer.self, forKey: .loadBalancer)
        }

        /// An ALB listener previews hang off: a target group and a host-header rule each.
        public struct LoadBalancer: Sendable, Hashable, Codable {
            public var listenerArn: String
            /// Rule priorities previews may take (ALB priorities are unique per listener).
            public var priorities: ClosedRange<Int>
            public var healthCheckPath: String
            public var vpcId: String?

            public init(listenerArn: String, priorities: ClosedRange<Int> = 1000...1999, healthCheckPath: String = "/",
                        vpcId: String? = nil) {
                self.listenerArn = listenerArn
                self.priorities = priorities
                self.healthCheckPath = healthCheckPath
                self.vpcId = vpcId
            }
        }
    }

    /// What the reconciler may do on its own besides deploying new commits.
    public struct Sync: Sendable, Hashable, Codable {
        /// Restore what was changed by hand in the runtime.
        public var selfHeal: Bool
        /// Remove what this service runs that no policy declares.
        public var prune: Bool

        public init(selfHeal: Bool = false, prune: Bool = false) {
            self.selfHeal = selfHeal
            self.prune = prune
        }
    }
}

extension Policy {
    /// Service names: `[a-z][a-z0-9-]{0,39}`.
    public static func isValidServiceName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLowercase, name.count <= 40 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }
}
