import Foundation
import Logging
import ServiceLifecycle
import SlipwayBuild
import SlipwayController
import SlipwayCore
import SlipwayDocker
import SlipwayGit
import SlipwayPolicy
import SlipwayRuntime
import SlipwaySourceHosts
import SlipwayStore
import SlipwayTelemetry
import SlipwaySystem

/// The running system as one value, built from the configuration the same way by `serve`,
/// `dev`, the tests and the benchmarks: which builder, which runtimes and registry logins,
/// the job pipeline, the policy watcher, the worker pools and the leased loops with their
/// lease names. Building it starts nothing; `workerServices` are what a worker runs.
public struct Assembly: Sendable {
    /// The leases that choose one replica for each loop.
    public enum LeaseName {
        public static let policies = "policies"
        public static let maintenance = "maintenance"
        public static let poller = "poller"
        public static let imageRetention = "image-retention"
        public static let reconciler = "reconciler"
        public static let previews = "previews"
    }

    public let config: Configuration
    public let store: Store
    public let logger: Logger
    public let wiring: RuntimeWiring
    public let git: MirrorCache
    public let secrets: SecretReader
    /// How Slipway proves itself to source hosts, for fetches and reports.
    public let sourceAccess: SourceAccess
    public let reportTransport: any APITransport
    /// Where notifications go: the given report transport (tests), else HTTP with no redirects followed and a 10 s wait.
    public let notificationTransport: any APITransport
    /// SLIPWAY_NOTIFY's channels, parsed once (`serve` refused to start on a wrong one).
    public let notifyChannels: [NotifyChannel]
    public let pipeline: Pipeline
    public let operations: Operations
    public let policyWatcher: PolicyWatcher
    /// Work was queued (a webhook's build, a NOTIFY): idle workers look at once.
    public let workQueued = WakeSignal()
    /// A push reached the policies repository: the watcher refreshes at once.
    public let policiesPushed: WakeSignal
    public let stops = StopSignals()
    public let clock: ServiceClock

    public var runtime: Runtimes { wiring.runtimes }
    public var spec: PolicySourceSpec { policyWatcher.sync.spec }

    /// - Parameters:
    ///   - dataDirectory: absolute; mirrors and work directories go below it.
    ///   - wiring: the runtimes and logins; by default from the environment (ECS when AWS settings resolve).
    public init(config: Configuration, spec: PolicySourceSpec, store: Store, engine: DockerEngine, dataDirectory: String,
                wiring: RuntimeWiring? = nil, clock: ServiceClock = .continuous, reportTransport: (any APITransport)? = nil,
                installation: String? = nil, logger: Logger) {
        self.config = config
        self.store = store
        self.logger = logger
        self.clock = clock
        let secrets = SecretReader(rules: config.secretRules(dataDirectory: dataDirectory))
        self.secrets = secrets
        let transport = reportTransport ?? HTTPTransport()
        self.reportTransport = transport
        self.notificationTransport = reportTransport ?? HTTPTransport(client: HTTPTransport.noRedirects, timeout: .seconds(10))
        self.notifyChannels = (try? Self.notifyDefault(config, secretRules: secrets.rules)) ?? []
        let access = SourceAccess(store: store, hosts: config.sourceHosts, secrets: secrets, knownHostsFile: config.sshKnownHosts,
                                  apps: GitHubAppTokens(transport: transport), logger: logger)
        self.sourceAccess = access
        let git = MirrorCache(directory: "\(dataDirectory)/mirrors", allowLocalRepos: config.allowLocalRepos, access: access)
        self.git = git
        let wiring = wiring ?? RuntimeWiring(engine: engine, network: config.dockerNetwork, secrets: secrets, installation: installation,
                                             logger: logger)
        self.wiring = wiring
        let policiesPushed = WakeSignal()
        self.policiesPushed = policiesPushed
        let hosts = config.sourceHosts
        let sync = PolicySync(spec: spec, store: store, git: git, allowLocalRepos: config.allowLocalRepos, secretRules: secrets.rules,
                              workDirectory: "\(dataDirectory)/work",
                              reportTarget: { policy in hosts.reportTarget(for: policy.source.repo).map { ($0.provider.rawValue, $0.repository) } },
                              logger: logger)
        policyWatcher = PolicyWatcher(sync: sync, interval: config.policiesPoll.duration, wake: policiesPushed,
                                      lease: LeaderLease(pool: store.pool, name: LeaseName.policies, logger: logger), clock: clock,
                                      logger: logger)
        pipeline = Pipeline(store: store, git: git, builder: Self.builder(config, engine: engine, wiring: wiring, dataDirectory: dataDirectory),
                            runtime: wiring.runtimes, workDirectory: "\(dataDirectory)/work", dockerNetwork: config.dockerNetwork,
                            baseImages: config.baseImages, registry: wiring.registry, secrets: secrets, clock: clock)
        operations = Operations(store: store, runtime: wiring.runtimes, feeds: DeploymentFeeds(store: store, clock: clock, logger: logger),
                                telemetry: Telemetry(), logger: logger)
    }

    /// The job handlers: the pipeline's, the reporter's and the notifier's.
    public var handlers: [any JobHandler] {
        let count = operations.telemetry.counter
        return pipeline.handlers + [
            NotifyHandler(store: store, access: sourceAccess, hosts: config.sourceHosts, transport: reportTransport, count: count),
            NotificationHandler(store: store, secrets: secrets, transport: notificationTransport, fallback: notifyChannels,
                                publicURL: config.sourceHosts.publicURL, count: count),
        ]
    }

    /// SLIPWAY_NOTIFY's channels, checked as a policy's `notify:` is (same references, same rules).
    public static func notifyDefault(_ config: Configuration, secretRules: SecretRules) throws -> [NotifyChannel] {
        guard let text = config.notifyDefault else { return [] }
        let (channels, diagnostics) = PolicyParser(allowLocalRepos: config.allowLocalRepos, secretRules: secretRules).parseNotifySetting(text)
        guard diagnostics.isEmpty else {
            throw Configuration.Invalid(key: "SLIPWAY_NOTIFY", message: diagnostics.map(\.description).joined(separator: "; "))
        }
        return channels
    }

    /// Says which providers this server reports to (their deployments queue reports from now
    /// on), one log line for each it cannot report to, and where each service's repository reports.
    public func startReporting() async throws {
        let hosts = config.sourceHosts
        let able = CommitStatus.Provider.allCases.filter { hosts.hasCredentials($0) && hosts.apiURL($0) != nil }
        try await store.setReportProviders(able.map(\.rawValue))
        for provider in CommitStatus.Provider.allCases where !able.contains(provider) {
            logger.notice("no commit statuses or comments for \(provider.displayName): no credentials", metadata: [
                "provider": "\(provider.rawValue)",
                "hint": "set \(provider.tokenSetting)\(provider == .bitbucketServer ? " and SLIPWAY_BITBUCKET_SERVER_API_URL" : ""), or name credentials in a policy's source.credentials",
            ])
        }
        try await store.setNotifyDefault(channels: notifyChannels.count)
        let policies = try await store.everyPolicy()
        try await store.setServiceReportTargets(Dictionary(policies.map { policy in
            (policy.service, hosts.reportTarget(for: policy.source.repo).map { ($0.provider.rawValue, $0.repository) })
        }, uniquingKeysWith: { a, _ in a }))
    }

    /// What the webhook intake reports: events stored. A push to the policies repository
    /// refreshes the policies at once: here when this replica leads them, and through the
    /// database's NOTIFY on the replica that does.
    public func eventsArrived(_ events: [NormalizedEvent]) {
        guard events.contains(where: { PolicyWatcher.concerns($0, spec: spec) }) else { return }
        policiesPushed.signal()
        let (store, logger) = (store, logger)
        Task {
            do { try await store.announcePoliciesPushed() } catch {
                logger.warning("a push to the policies was not announced to the other replicas; the leader reads it at its next poll",
                               metadata: ["error": "\(error)"])
            }
        }
    }

    /// The connection that hears what other replicas announce: new jobs, stop requests, pushes to the policies.
    public func listener(database: DatabaseURL) -> QueueListener {
        QueueListener(configuration: Database.connectionConfiguration(database), wake: workQueued, stops: stops,
                      policiesPushed: policiesPushed, logger: logger)
    }

    /// A BuildKit daemon when BUILDKIT_HOST names one; else the engine's BuildKit (through the
    /// docker CLI when there is one, for its progress output).
    static func builder(_ config: Configuration, engine: DockerEngine, wiring: RuntimeWiring, dataDirectory: String) -> any Builder {
        if let host = config.buildkitHost {
            return BuildctlBuilder(host: host, scratch: "\(dataDirectory)/work", auth: wiring.registryAuth)
        }
        let cli = config.dockerCLI ?? (FileManager.default.isExecutableFile(atPath: "/usr/bin/docker") ? "/usr/bin/docker" : nil)
        return EngineBuilder(engine: engine, auth: wiring.registryAuth, cli: cli.map { ($0, config.dockerHost) })
    }

    /// The two worker pools: builds under the configured limits; rollouts, watches,
    /// retirements, path checks, preview decisions and teardowns — mostly waiting on the
    /// engine or git — in many slots, one rollout per target at a time (and one preview
    /// decision per pull request number, so one pull request's events land in order).
    public static func poolSettings(_ config: Configuration) -> [WorkerPool.Settings] {
        [
            .init(name: "build", kinds: [.build],
                  limits: [.build: KindLimits(global: config.buildConcurrency, perService: config.buildConcurrencyPerService)],
                  concurrency: config.buildConcurrency, lease: config.jobLease, pollInterval: config.queuePollInterval),
            .init(name: "rollout", kinds: [.rollout, .watch, .retire, .paths, .preview, .teardown],
                  limits: [.rollout: KindLimits(perTarget: 1), .preview: KindLimits(perTarget: 1), .teardown: KindLimits(perTarget: 1)],
                  concurrency: 16, lease: config.jobLease, pollInterval: config.queuePollInterval),
            // Reports to source hosts and notifications in their own slots: a slow receiver never takes a rollout's.
            .init(name: "notify", kinds: [.notify, .notification], concurrency: 8, lease: config.jobLease, pollInterval: config.queuePollInterval),
        ]
    }

    /// What a web process runs beside its HTTP server: the stage metrics it serves.
    public func webServices() -> [any Service] {
        [StageMetrics(store: store, telemetry: operations.telemetry, clock: clock, logger: logger)]
    }

    /// What a worker process runs: the queue listener, the leased loops (maintenance,
    /// polling, image retention and reconciling where configured) and the worker pools.
    public func workerServices(database: DatabaseURL) -> [any Service] {
        let lease = { (name: String) in LeaderLease(pool: store.pool, name: name, logger: logger) }
        var services: [any Service] = [
            listener(database: database),
            Maintenance(queue: store.queue, lease: lease(LeaseName.maintenance), settings: .init(retention: config.jobRetention, logRetention: config.logRetention),
                        clock: clock, logger: logger),
            Poller(store: store, git: git, lease: lease(LeaseName.poller), clock: clock, logger: logger),
        ]
        if let keep = config.imageRetention {
            services.append(ImageJanitor(store: store, registry: wiring.registry, keep: keep, lease: lease(LeaseName.imageRetention),
                                         secrets: secrets, clock: clock, logger: logger))
        }
        if let interval = config.reconcileInterval {
            services.append(ReconcileLoop(planner: Planner(store: store, runtime: runtime, logger: logger), store: store, runtime: runtime,
                                          lease: lease(LeaseName.reconciler), interval: interval.duration, clock: clock, logger: logger,
                                          count: operations.telemetry.counter))
        }
        // Always on, even with the reconciler off: previews must not outlive their pull requests or TTL.
        services.append(PreviewSweeper(store: store, runtime: runtime, lease: lease(LeaseName.previews),
                                       interval: (config.reconcileInterval ?? .seconds(30)).duration, clock: clock, logger: logger))
        for settings in Self.poolSettings(config) {
            services.append(WorkerPool(settings: settings, queue: store.queue, handlers: handlers, wake: workQueued, stops: stops,
                                       logger: logger, clock: clock, count: operations.telemetry.counter))
        }
        return services
    }
}
