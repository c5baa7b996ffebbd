import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import SlipwayApp
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
        do { _ = try Assembly.notifyDefault(config, secretRules: config.secretRules(dataDirectory: dataDir)) } catch {
            throw CLIError("\(error)")
        }
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
        let assembly = Assembly(config: config, spec: spec, store: store, engine: engine, dataDirectory: dataDir,
                                installation: try await store.installationID(), logger: logger)
        do {
            switch try await assembly.policyWatcher.refreshIfLeading() {
            case .unchanged?: logger.info("policies unchanged since they were applied", metadata: ["policies.source": "\(spec)"])
            case nil: logger.info("another replica applies the policies", metadata: ["policies.source": "\(spec)"])
            default: break
            }
        } catch {
            // The set applied last stays in force; the watcher keeps trying.
            logger.error("policies not read; serving with the set applied last", metadata: ["policies.source": "\(spec)", "error": "\(error)"])
        }
        do { try await assembly.startReporting() } catch {
            logger.error("reporting to source hosts not set up; deployments go on without statuses", metadata: ["error": "\(error)"])
        }
        var services: [any Service] = [assembly.policyWatcher]
        if roles.web { services.append(HTTPServer.application(assembly)); services += assembly.webServices() }
        if roles.workers { services += assembly.workerServices(database: url) } else {
            // A web-only replica may lead the policies: it hears pushes that reached another replica.
            services.append(assembly.listener(database: url))
        }
        logger.info("slipway serving", metadata: [
            "http.address": "\(config.httpHost):\(config.httpPort)", "roles": "\(roles.rawValue)",
            "docker.host": "\(config.dockerHost)",
        ])
        var group = ServiceGroupConfiguration(services: services.map { .init(service: $0) },
                                              gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // The drain's bound (README, "Running in production"): 20 s to stop jobs and answer requests
        // in flight, then cancellation, and at 30 s the process ends however far it got (a job it
        // still held is then rescued when its lease expires, as after a crash).
        group.maximumGracefulShutdownDuration = .seconds(20)
        group.maximumCancellationDuration = .seconds(10)
        try await ServiceGroup(configuration: group).run()
    }
}
