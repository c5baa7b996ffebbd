import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import SlipwayBuild
import SlipwayController
import SlipwayCore
import SlipwayDocker
import SlipwayGit
import SlipwayPolicy
import SlipwayRegistry
import SlipwayRuntime
import SlipwayServer
import SlipwayStore
import SlipwaySystem

/// Which parts a `serve` process runs; replicas may split them.
enum Roles: String, ExpressibleByArgument, CaseIterable {
    case all, web, worker
    var web: Bool { self != .worker }
    var workers: Bool { self != .web }
}

/// Puts the parts together and runs them until SIGTERM or SIGINT.
enum App {
    static func loadPolicies(_ config: Configuration) throws -> [LocatedPolicy] {
        do {
            return try PolicyLoader(allowLocalRepos: config.allowLocalRepos, secretRules: config.policySecretRules).load(path: config.policies)
        } catch {
            printError(error.description)
            printError("slipway: refusing to start with invalid policies (\(error.diagnostics.count) error\(error.diagnostics.count == 1 ? "" : "s")); fix them and check with `slipway policies validate \(config.policies)`")
            throw ExitCode(1)
        }
    }

    /// SLIPWAY_DOCKER_NETWORK, or `none` on an engine without its default bridge
    /// (started with --bridge=none), where the default would fail every container.
    static func dockerNetwork(_ config: Configuration, engine: DockerEngine, logger: Logger) async -> String? {
        if let network = config.dockerNetwork { return network }
        guard await engine.ping() else {
            logger.warning("the Docker engine does not answer; builds and rollouts will wait and retry",
                           metadata: ["docker.host": "\(config.dockerHost)"])
            return nil
        }
        guard let networks = try? await engine.networks(), !networks.contains("bridge") else { return nil }
        logger.notice("the Docker engine has no bridge network; builds and containers use network none",
                      metadata: ["docker.host": "\(config.dockerHost)"])
        return "none"
    }

    static func run(config: Configuration, roles: Roles, logger: Logger) async throws {
        let spec: PolicySourceSpec
        do { spec = try PolicySourceSpec(parsing: config.policies) } catch { throw CLIError(error.description) }
        // A folder that does not validate stops the start; a policies repository is read once serving.
        if case .folder = spec { _ = try loadPolicies(config) }
        guard let text = config.databaseURL else {
            throw CLIError("DATABASE_URL is not set; set it, or use `slipway dev` for a private database")
        }
        let url: DatabaseURL
        do { url = try DatabaseURL(parsing: text) } catch { throw CLIError("DATABASE_URL: \(error)") }
        let dataDir = URL(fileURLWithPath: config.dataDir).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: "\(dataDir)/work", withIntermediateDirectories: true)

        let engine = try DockerEngine(host: config.dockerHost)
        var config = config
        config.dockerNetwork = await dockerNetwork(config, engine: engine, logger: logger)
        try await Store.open(url, logger: logger) { store in
            try await run(config: config, roles: roles, spec: spec, store: store, engine: engine, url: url,
                          dataDir: dataDir, logger: logger)
        }
    }

    static func run(config: Configuration, roles: Roles, spec: PolicySourceSpec, store: Store, engine: DockerEngine,
                    url: DatabaseURL, dataDir: String, logger: Logger) async throws {
        let applied = try await store.migrate()
        if !applied.isEmpty { logger.info("database migrated", metadata: ["migrations.applied": "\(applied)"]) }
        let git = MirrorCache(directory: "\(dataDir)/mirrors", allowLocalRepos: config.allowLocalRepos)
        let secrets = SecretReader(rules: config.policySecretRules)
        let policySync = PolicySync(spec: spec, store: store, git: git, allowLocalRepos: config.allowLocalRepos, secretRules: secrets.rules,
                                    workDirectory: "\(dataDir)/work", logger: logger)
        let policiesWake = WakeSignal()
        let policyWatcher = PolicyWatcher(sync: policySync, interval: config.policiesPoll.duration, wake: policiesWake,
                                          lease: LeaderLease(pool: store.pool, name: "policies", logger: logger), logger: logger)
        do {
            switch try await policyWatcher.refreshIfLeading() {
            case .unchanged?: logger.info("policies unchanged since they were applied", metadata: ["policies.source": "\(spec)"])
            case nil: logger.info("another replica applies the policies", metadata: ["policies.source": "\(spec)"])
            default: break
            }
        } catch {
            // The set applied last stays in force; the watcher keeps trying.
            logger.error("policies not read; serving with the set applied last", metadata: ["policies.source": "\(spec)", "error": "\(error)"])
        }
        let wiring = RuntimeWiring(engine: engine, network: config.dockerNetwork, secrets: secrets, logger: logger)
        let runtime = wiring.runtimes

        let wake = WakeSignal()
        var services: [any Service] = [policyWatcher]
        if roles.web {
            let intake = WebhookIntake(store: store, secrets: config.webhookSecrets, secretReader: secrets, logger: logger,
                                       onQueued: { wake.signal() },
                                       onEvents: { events in
                                           if events.contains(where: { PolicyWatcher.concerns($0, spec: spec) }) { policiesWake.signal() }
                                       })
            services.append(Application(
                router: HTTPServer.router(store: store, intake: intake, budget: BodyBudget(limit: config.webhookInflightBytes), plan: { service in
                    try await Planner(store: store, runtime: runtime, logger: logger).plan(service: service).services
                }),
                // A connection left idle is closed: a client cannot hold one (or a webhook's budget) open for nothing.
                server: .http1(configuration: .init(idleTimeout: .seconds(60))),
                configuration: .init(address: .hostname(config.httpHost, port: config.httpPort), serverName: "slipway"),
                logger: logger))
        }
        if roles.workers {
            let pipeline = Pipeline(
                store: store,
                git: git,
                // A BuildKit daemon when BUILDKIT_HOST names one; else the engine's BuildKit.
                builder: config.buildkitHost.map { BuildctlBuilder(host: $0, scratch: "\(dataDir)/work", auth: wiring.registryAuth) as any Builder }
                    ?? EngineBuilder(engine: engine, auth: wiring.registryAuth,
                                     cli: (config.dockerCLI ?? (FileManager.default.isExecutableFile(atPath: "/usr/bin/docker") ? "/usr/bin/docker" : nil))
                                         .map { ($0, config.dockerHost) }),
                runtime: runtime,
                workDirectory: "\(dataDir)/work",
                dockerNetwork: config.dockerNetwork,
                baseImages: config.baseImages,
                registry: wiring.registry,
                secrets: secrets)
            let handlers = pipeline.handlers
            let stops = StopSignals()
            services.append(QueueListener(configuration: Database.connectionConfiguration(url), wake: wake, stops: stops,
                                          logger: logger))
            services.append(Maintenance(queue: store.queue, lease: LeaderLease(pool: store.pool, name: "maintenance", logger: logger),
                                        settings: .init(retention: config.jobRetention), logger: logger))
            services.append(Poller(store: store, git: git, lease: LeaderLease(pool: store.pool, name: "poller", logger: logger),
                                   logger: logger))
            if let keep = config.imageRetention {
                services.append(ImageJanitor(store: store, registry: wiring.registry, keep: keep,
                                             lease: LeaderLease(pool: store.pool, name: "image-retention", logger: logger),
                                             secrets: secrets, logger: logger))
            }
            if let interval = config.reconcileInterval {
                services.append(ReconcileLoop(planner: Planner(store: store, runtime: runtime, logger: logger), store: store,
                                              runtime: runtime, lease: LeaderLease(pool: store.pool, name: "reconciler", logger: logger),
                                              interval: interval.duration, logger: logger))
            }
            services.append(WorkerPool(
                settings: .init(name: "build", kinds: [.build],
                                limits: [.build: KindLimits(global: config.buildConcurrency, perService: config.buildConcurrencyPerService)],
                                concurrency: config.buildConcurrency, lease: config.jobLease, pollInterval: config.queuePollInterval),
                queue: store.queue, handlers: handlers, wake: wake, stops: stops, logger: logger))
            // Rollouts and watches mostly wait on the engine, path checks on git: many slots,
            // little CPU; one rollout per service at a time.
            services.append(WorkerPool(
                settings: .init(name: "rollout", kinds: [.rollout, .watch, .retire, .paths], limits: [.rollout: KindLimits(perService: 1)],
                                concurrency: 16, lease: config.jobLease, pollInterval: config.queuePollInterval),
                queue: store.queue, handlers: handlers, wake: wake, stops: stops, logger: logger))
        }
        logger.info("slipway serving", metadata: [
            "http.address": "\(config.httpHost):\(config.httpPort)", "roles": "\(roles.rawValue)",
            "docker.host": "\(config.dockerHost)",
        ])
        let serviceGroup = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await serviceGroup.run()
    }
}
