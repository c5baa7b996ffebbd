import Foundation

/// Slipway's settings. Flags override the environment, the environment overrides
/// `.env`; `resolve` is pure so that precedence is table-tested.
public struct Configuration: Sendable, Hashable {
    public var databaseURL: String?
    public var httpHost: String
    public var httpPort: Int
    public var policies: String
    public var dataDir: String
    public var allowLocalRepos: Bool
    public var webhookSecrets: [NormalizedEvent.Provider: String]
    public var dockerHost: String
    public var buildkitHost: String?
    public var dockerNetwork: String?
    public var logLevel: String
    /// Builds at once across every replica (and at most this many in one process).
    public var buildConcurrency: Int
    public var buildConcurrencyPerService: Int
    /// Finished jobs are deleted after this long.
    public var jobRetention: TimeSpan
    /// Log lines and events of deployments that finished longer ago are deleted (each target's newest 20 kept).
    public var logRetention: TimeSpan
    public var jobLease: TimeSpan
    public var queuePollInterval: TimeSpan
    /// How often the policy source is read again (a push to a policies repository reads it at once).
    public var policiesPoll: TimeSpan
    /// How often the reconcile loop runs; nil: off.
    public var reconcileInterval: TimeSpan?
    /// Zero-config builds: tool → image overrides for every service (SLIPWAY_BASE_IMAGES).
    public var baseImages: [String: String]
    /// Images of this many newest successful deployments per service are kept in the
    /// registry (with the live one, its rollback target and those in flight); nil: nothing is deleted.
    public var imageRetention: Int?
    /// A Docker CLI with BuildKit, for builds with secrets on the engine; nil: the docker.io package's `/usr/bin/docker` when present.
    public var dockerCLI: String?
    /// What `env:` names policies may read must start with (SLIPWAY_POLICY_SECRET_PREFIXES).
    public var policySecretPrefixes: [String]
    /// Folders `file:` references of policies must lie in (SLIPWAY_POLICY_SECRET_DIRS); nil: /run/secrets/slipway and `<data dir>/secrets`.
    public var policySecretDirs: [String]?
    /// Bytes of webhook bodies held at once, across requests; past it, 503 with Retry-After.
    public var webhookInflightBytes: Int
    /// The source hosts' APIs and the server's credentials for them (statuses, comments, fetches).
    public var sourceHosts: SourceHosts = SourceHosts()
    /// A known_hosts file every ssh fetch checks host keys against (SLIPWAY_SSH_KNOWN_HOSTS).
    public var sshKnownHosts: String?
    /// A Slipway server the CLI talks to instead of the database (SLIPWAY_URL), with SLIPWAY_TOKEN.
    public var apiURL: String?
    public var apiToken: String?
    /// `/metrics` asks for an API token (any role) when set (SLIPWAY_METRICS_TOKEN=1).
    public var metricsNeedToken = false
    /// SLIPWAY_NOTIFY: the default notification channels (YAML in the shape of a policy's `notify:`), checked at start.
    public var notifyDefault: String?

    /// The rules for policies' secret references, with the data directory as an absolute path.
    public func secretRules(dataDirectory: String) -> SecretRules {
        SecretRules(environmentPrefixes: policySecretPrefixes,
                    folders: policySecretDirs ?? SecretRules.standard(dataDirectory: dataDirectory).folders)
    }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let key: String
        public let message: String
        public var description: String { "\(key): \(message)" }
        public init(key: String, message: String) {
            self.key = key
            self.message = message
        }
    }

    /// Every key Slipway reads, for `--help` texts and redacted printing.
    public static let keys: [String] = [
        "DATABASE_URL", "SLIPWAY_HTTP_ADDR", "SLIPWAY_POLICIES", "SLIPWAY_DATA_DIR", "SLIPWAY_ALLOW_LOCAL_REPOS",
        "SLIPWAY_WEBHOOK_SECRET_GITHUB", "SLIPWAY_WEBHOOK_SECRET_GITLAB", "SLIPWAY_WEBHOOK_SECRET_BITBUCKET",
        "DOCKER_HOST", "BUILDKIT_HOST", "SLIPWAY_DOCKER_NETWORK", "SLIPWAY_LOG_LEVEL",
        "SLIPWAY_BUILD_CONCURRENCY", "SLIPWAY_BUILD_CONCURRENCY_PER_SERVICE", "SLIPWAY_JOB_LEASE",
        "SLIPWAY_JOB_RETENTION", "SLIPWAY_QUEUE_POLL", "SLIPWAY_POLICIES_POLL", "SLIPWAY_RECONCILE_INTERVAL", "SLIPWAY_BASE_IMAGES",
        "SLIPWAY_IMAGE_RETENTION", "SLIPWAY_DOCKER_CLI", "SLIPWAY_POLICY_SECRET_PREFIXES", "SLIPWAY_POLICY_SECRET_DIRS",
        "SLIPWAY_WEBHOOK_MAX_INFLIGHT_MB",
        "SLIPWAY_GITHUB_API_URL", "SLIPWAY_GITHUB_TOKEN", "SLIPWAY_GITHUB_APP_ID", "SLIPWAY_GITHUB_APP_KEY_FILE",
        "SLIPWAY_GITLAB_API_URL", "SLIPWAY_GITLAB_TOKEN", "SLIPWAY_BITBUCKET_API_URL", "SLIPWAY_BITBUCKET_TOKEN",
        "SLIPWAY_BITBUCKET_SERVER_API_URL", "SLIPWAY_BITBUCKET_SERVER_TOKEN", "SLIPWAY_PUBLIC_URL", "SLIPWAY_SSH_KNOWN_HOSTS",
        "SLIPWAY_URL", "SLIPWAY_TOKEN", "SLIPWAY_METRICS_TOKEN", "SLIPWAY_NOTIFY", "SLIPWAY_LOG_RETENTION",
    ]

    static let secretKeys: Set<String> = [
        "SLIPWAY_WEBHOOK_SECRET_GITHUB", "SLIPWAY_WEBHOOK_SECRET_GITLAB", "SLIPWAY_WEBHOOK_SECRET_BITBUCKET",
        "SLIPWAY_GITHUB_TOKEN", "SLIPWAY_GITLAB_TOKEN", "SLIPWAY_BITBUCKET_TOKEN", "SLIPWAY_BITBUCKET_SERVER_TOKEN",
    ]

    /// - Parameters:
    ///   - flags: values given on the command line, by their environment name.
    ///   - defaults: what the verb prefers when nothing is set (`dev` allows local repos, say).
    public static func resolve(
        flags: [String: String] = [:],
        environment: [String: String],
        dotenv: [String: String] = [:],
        defaults: [String: String] = [:]
    ) throws(Invalid) -> Configuration {
        let merged = defaults.merging(dotenv) { $1 }.merging(environment) { $1 }.merging(flags) { $1 }
        func value(_ key: String) -> String? {
            guard let v = merged[key], !v.isEmpty else { return nil }
            return v
        }
        let address = value("SLIPWAY_HTTP_ADDR") ?? "127.0.0.1:8080"
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw Invalid(key: "SLIPWAY_HTTP_ADDR", message: "`\(address)` is not host:port, as in 127.0.0.1:8080")
        }
        var secrets: [NormalizedEvent.Provider: String] = [:]
        secrets[.github] = value("SLIPWAY_WEBHOOK_SECRET_GITHUB")
        secrets[.gitlab] = value("SLIPWAY_WEBHOOK_SECRET_GITLAB")
        secrets[.bitbucket] = value("SLIPWAY_WEBHOOK_SECRET_BITBUCKET")
        secrets[.bitbucketServer] = value("SLIPWAY_WEBHOOK_SECRET_BITBUCKET")

        var config = Configuration(
            databaseURL: value("DATABASE_URL"),
            httpHost: String(address[..<colon]).trimmingCharacters(in: ["[", "]"]),
            httpPort: port,
            policies: value("SLIPWAY_POLICIES") ?? "policies",
            dataDir: value("SLIPWAY_DATA_DIR") ?? ".slipway",
            allowLocalRepos: try flag("SLIPWAY_ALLOW_LOCAL_REPOS", value("SLIPWAY_ALLOW_LOCAL_REPOS")),
            webhookSecrets: secrets,
            dockerHost: value("DOCKER_HOST") ?? "unix:///var/run/docker.sock",
            buildkitHost: value("BUILDKIT_HOST"),
            dockerNetwork: value("SLIPWAY_DOCKER_NETWORK"),
            logLevel: value("SLIPWAY_LOG_LEVEL") ?? "info",
            buildConcurrency: try positive("SLIPWAY_BUILD_CONCURRENCY", value("SLIPWAY_BUILD_CONCURRENCY"), default: 2),
            buildConcurrencyPerService: try positive("SLIPWAY_BUILD_CONCURRENCY_PER_SERVICE",
                                                     value("SLIPWAY_BUILD_CONCURRENCY_PER_SERVICE"), default: 1),
            jobRetention: try span("SLIPWAY_JOB_RETENTION", value("SLIPWAY_JOB_RETENTION"), default: .seconds(7 * 86_400)),
            logRetention: try span("SLIPWAY_LOG_RETENTION", value("SLIPWAY_LOG_RETENTION"), default: .seconds(30 * 86_400)),
            jobLease: try span("SLIPWAY_JOB_LEASE", value("SLIPWAY_JOB_LEASE"), default: .seconds(15)),
            queuePollInterval: try span("SLIPWAY_QUEUE_POLL", value("SLIPWAY_QUEUE_POLL"), default: .seconds(2)),
            policiesPoll: try span("SLIPWAY_POLICIES_POLL", value("SLIPWAY_POLICIES_POLL"), default: .seconds(30)),
            reconcileInterval: value("SLIPWAY_RECONCILE_INTERVAL")?.lowercased() == "off" ? nil
                : try span("SLIPWAY_RECONCILE_INTERVAL", value("SLIPWAY_RECONCILE_INTERVAL"), default: .seconds(30)),
            baseImages: BaseImageDefaults.parse(value("SLIPWAY_BASE_IMAGES") ?? ""),
            imageRetention: value("SLIPWAY_IMAGE_RETENTION")?.lowercased() == "off" ? nil
                : try count("SLIPWAY_IMAGE_RETENTION", value("SLIPWAY_IMAGE_RETENTION"), default: 10),
            dockerCLI: value("SLIPWAY_DOCKER_CLI"),
            policySecretPrefixes: try prefixes(value("SLIPWAY_POLICY_SECRET_PREFIXES")),
            policySecretDirs: try folders(value("SLIPWAY_POLICY_SECRET_DIRS")),
            webhookInflightBytes: try positive("SLIPWAY_WEBHOOK_MAX_INFLIGHT_MB", value("SLIPWAY_WEBHOOK_MAX_INFLIGHT_MB"), default: 128) << 20
        )
        config.sourceHosts = try sourceHosts(value)
        config.sshKnownHosts = value("SLIPWAY_SSH_KNOWN_HOSTS")
        if let url = value("SLIPWAY_URL") {
            guard let scheme = url.range(of: "://"), ["http", "https"].contains(url[..<scheme.lowerBound].lowercased()) else {
                throw Invalid(key: "SLIPWAY_URL", message: "`\(url)` is not an http(s) URL, as in https://slipway.acme.internal")
            }
            config.apiURL = SourceHosts.trimmed(url)
        }
        config.apiToken = value("SLIPWAY_TOKEN")
        config.metricsNeedToken = try flag("SLIPWAY_METRICS_TOKEN", value("SLIPWAY_METRICS_TOKEN"))
        config.notifyDefault = value("SLIPWAY_NOTIFY")
        return config
    }

    static func sourceHosts(_ value: (String) -> String?) throws(Invalid) -> SourceHosts {
        func url(_ key: String, default fallback: String?) throws(Invalid) -> String? {
            guard let text = value(key) else { return fallback }
            guard let scheme = text.range(of: "://"), ["http", "https"].contains(text[..<scheme.lowerBound].lowercased()),
                  SourceHosts.host(of: text) != nil else {
                throw Invalid(key: key, message: "`\(text)` is not an http(s) URL, as in https://github.example.com/api/v3")
            }
            return text
        }
        var tokens: [SourceHosts.Provider: String] = [:]
        tokens[.github] = value("SLIPWAY_GITHUB_TOKEN")
        tokens[.gitlab] = value("SLIPWAY_GITLAB_TOKEN")
        tokens[.bitbucket] = value("SLIPWAY_BITBUCKET_TOKEN")
        tokens[.bitbucketServer] = value("SLIPWAY_BITBUCKET_SERVER_TOKEN")
        let appID = value("SLIPWAY_GITHUB_APP_ID"), appKey = value("SLIPWAY_GITHUB_APP_KEY_FILE")
        if let appID, !appID.allSatisfy(\.isNumber) {
            throw Invalid(key: "SLIPWAY_GITHUB_APP_ID", message: "`\(appID)` is not a GitHub App id (a number, on the App's settings page)")
        }
        if (appID == nil) != (appKey == nil) {
            throw Invalid(key: appID == nil ? "SLIPWAY_GITHUB_APP_ID" : "SLIPWAY_GITHUB_APP_KEY_FILE",
                          message: "a GitHub App needs both SLIPWAY_GITHUB_APP_ID and SLIPWAY_GITHUB_APP_KEY_FILE (the path of its PEM private key)")
        }
        if let appKey, !appKey.hasPrefix("/") {
            throw Invalid(key: "SLIPWAY_GITHUB_APP_KEY_FILE", message: "`\(appKey)` is not an absolute path to the App's PEM private key")
        }
        return SourceHosts(
            githubAPI: try url("SLIPWAY_GITHUB_API_URL", default: SourceHosts.defaultGitHubAPI)!,
            gitlabAPI: try url("SLIPWAY_GITLAB_API_URL", default: SourceHosts.defaultGitLabAPI)!,
            bitbucketAPI: try url("SLIPWAY_BITBUCKET_API_URL", default: SourceHosts.defaultBitbucketAPI)!,
            bitbucketServerAPI: try url("SLIPWAY_BITBUCKET_SERVER_API_URL", default: nil),
            tokens: tokens, githubAppID: appID, githubAppKeyFile: appKey,
            publicURL: try url("SLIPWAY_PUBLIC_URL", default: nil))
    }

    /// `SLIPWAY_SECRET_,NPM_`: variable-name prefixes, comma-separated.
    static func prefixes(_ text: String?) throws(Invalid) -> [String] {
        guard let text else { return [SecretRules.defaultPrefix] }
        let list = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty, list.allSatisfy({ VariableName.isValid($0) && $0.count >= 3 }) else {
            throw Invalid(key: "SLIPWAY_POLICY_SECRET_PREFIXES", message: "`\(text)` is not a comma-separated list of variable-name prefixes of 3 or more characters, as in SLIPWAY_SECRET_")
        }
        return list
    }

    /// `/run/secrets/slipway,/etc/slipway/secrets`: absolute folders, comma-separated.
    static func folders(_ text: String?) throws(Invalid) -> [String]? {
        guard let text else { return nil }
        let list = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty, list.allSatisfy({ $0.hasPrefix("/") && $0 != "/" && !$0.split(separator: "/").contains("..") }) else {
            throw Invalid(key: "SLIPWAY_POLICY_SECRET_DIRS", message: "`\(text)` is not a comma-separated list of absolute folders (not /), as in /run/secrets/slipway")
        }
        return list
    }

    static func flag(_ key: String, _ text: String?) throws(Invalid) -> Bool {
        switch text?.lowercased() {
        case nil, "0", "false", "no", "off": return false
        case "1", "true", "yes", "on": return true
        default: throw Invalid(key: key, message: "`\(text!)` is not 1 or 0")
        }
    }

    static func positive(_ key: String, _ text: String?, default value: Int) throws(Invalid) -> Int {
        guard let text else { return value }
        guard let n = Int(text), n > 0 else { throw Invalid(key: key, message: "`\(text)` is not a positive number") }
        return n
    }

    /// 0 or more.
    static func count(_ key: String, _ text: String?, default value: Int) throws(Invalid) -> Int {
        guard let text else { return value }
        guard let number = Int(text), number >= 0 else {
            throw Invalid(key: key, message: "`\(text)` is not a count (0 or more), or `off`")
        }
        return number
    }

    static func span(_ key: String, _ text: String?, default value: TimeSpan) throws(Invalid) -> TimeSpan {
        guard let text else { return value }
        guard let span = TimeSpan(parsing: text), span.milliseconds > 0 else {
            throw Invalid(key: key, message: "`\(text)` is not a duration like 30s or 5m")
        }
        return span
    }

    /// `KEY=value` lines for display, secrets replaced by `[redacted]`.
    public static func redacted(_ values: [String: String]) -> [String] {
        values.keys.sorted().map { key in
            let value = values[key]!
            if secretKeys.contains(key) || key.contains("SECRET") || key.contains("TOKEN") || key.contains("PASSWORD") {
                return "\(key)=[redacted]"
            }
            if key == "DATABASE_URL" { return "\(key)=\(DatabaseURL.redactingPassword(value))" }
            return "\(key)=\(value)"
        }
    }
}
