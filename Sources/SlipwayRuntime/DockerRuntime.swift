import Foundation
import Logging
import SlipwayCore
import SlipwayDocker
import SlipwaySystem

/// Runs revisions as containers on a Docker engine (`deploy.target: docker`), labelled
/// with their service and deployment so every question is answered by a label filter, and
/// with the installation, so another Slipway sharing the engine is left alone.
public struct DockerRuntime: Runtime {
    public static let serviceLabel = "slipway.service"
    public static let deploymentLabel = "slipway.deployment"
    public static let shaLabel = "slipway.sha"
    /// `main` or `pr-N`; containers made before environments have none and are `main`'s.
    public static let environmentLabel = "slipway.environment"
    /// The installation that runs it (`Store.installationID`); containers made before it have none and are anyone's.
    public static let installationLabel = "slipway.installation"

    /// SIGTERM, then SIGKILL after this many seconds, when a preview is torn down.
    public static let teardownGraceSeconds = 3

    static func environment(of labels: [String: String]) -> String {
        labels[environmentLabel] ?? DeploymentTarget.Environment.main.rawValue
    }

    let engine: DockerEngine
    let network: String?
    let auth: RegistryLoginProvider
    let secrets: SecretReader
    /// nil: no installation label (a test's runtime, or an engine only one installation uses).
    let installation: String?

    public init(engine: DockerEngine, network: String?, auth: @escaping RegistryLoginProvider = RegistryLogin.anonymous,
                secrets: SecretReader = .standard, installation: String? = nil) {
        self.installation = installation.flatMap { $0.isEmpty ? nil : $0 }
        self.secrets = secrets
        self.engine = engine
        self.network = network
        self.auth = auth
    }

    public static func containerName(service: String, deploymentID: Int64, index: Int) -> String {
        containerName(target: .main(service), deploymentID: deploymentID, index: index)
    }

    /// `slipway-web-12-1` for main, `slipway-web-pr-7-12-1` for a preview.
    public static func containerName(target: DeploymentTarget, deploymentID: Int64, index: Int) -> String {
        "slipway-\(target.runtimeName)-\(deploymentID)-\(index)"
    }

    /// Whether a container with these labels is this installation's.
    func mine(_ labels: [String: String]) -> Bool {
        guard let installation, let theirs = labels[Self.installationLabel] else { return true }
        return theirs == installation
    }

    /// This installation's containers with all of `labels`.
    func ours(_ labels: [String: String]) async throws -> [String] {
        try await engine.containerSummaries(labels: labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
            .filter { mine($0.labels) }.map(\.id)
    }

    /// The container's name: `containerName`, with the installation's first 8 characters when it has one.
    func name(_ revision: Revision, index: Int) -> String {
        Self.containerName(target: revision.deploymentTarget, deploymentID: revision.deploymentID, index: index)
            + (installation.map { "-\($0.prefix(8))" } ?? "")
    }

    /// Containers are per deployment: there is no one revision a service runs.
    public func current(_ revision: Revision) async throws -> RunningRevision? { nil }

    public func start(_ revision: Revision) async throws -> Started {
        // A retried rollout finds the containers of its first attempt: start over.
        try await remove(revision)
        let registry = try? ImageReference(parsing: revision.image).registry
        let login: RegistryLogin
        do {
            if let credentials = revision.policy?.imageCredentials {
                login = try RegistryLogin.from(credentials, registry: registry, reader: secrets)
            } else {
                login = try await auth(registry)
            }
        } catch {
            throw RuntimeFailure("image \(revision.image) is not available: no login for its registry: \(error)")
        }
        do {
            try await engine.ensureImage(revision.image, auth: login)
        } catch let error as DockerError {
            throw RuntimeFailure("image \(revision.image) is not available: \(error.message)")
        }
        var labels = [Self.serviceLabel: revision.service, Self.deploymentLabel: "\(revision.deploymentID)",
                      Self.environmentLabel: revision.environment.rawValue]
        labels[Self.shaLabel] = revision.sha
        labels[Self.installationLabel] = installation
        do {
            for index in 1...max(1, revision.count) {
                // No restart policy while watched: every exit is seen, counted, and restarted by the watcher.
                let id = try await engine.createContainer(ContainerSpec(
                    name: name(revision, index: index),
                    image: revision.image, env: revision.env, labels: labels, network: revision.network ?? network, restartPolicy: "no",
                    port: revision.port, healthCheck: revision.healthCheck.map {
                        ContainerSpec.HealthCheckSpec(test: $0.command, interval: $0.interval.duration, timeout: $0.timeout.duration,
                                                      retries: $0.retries, startPeriod: $0.startPeriod.duration)
                    }))
                try await engine.startContainer(id)
            }
        } catch let error as DockerError {
            try? await remove(revision)
            throw RuntimeFailure("container of \(revision.image) did not start: \(error.message)")
        }
        return Started(instances: try await instances(of: revision))
    }

    public func instances(of revision: Revision) async throws -> [Instance] {
        let (service, deploymentID) = (revision.service, revision.deploymentID)
        let ids = try await ours([Self.serviceLabel: service, Self.deploymentLabel: "\(deploymentID)"])
        var out: [Instance] = []
        for id in ids {
            guard let state = try? await engine.inspectContainer(id) else { continue }  // removed meanwhile
            let running = state.status == "running" || state.status == "restarting" || state.status == "created"
            var detail = state.status
            if state.oomKilled { detail += ", killed for using too much memory (OOM)" }
            if !state.error.isEmpty { detail += ", \(state.error)" }
            out.append(Instance(id: state.id, name: state.name, running: running,
                                exitCode: running ? nil : state.exitCode,
                                finishedAt: running ? nil : (state.finishedAt ?? Date()), detail: detail))
        }
        return out.sorted { $0.name < $1.name }
    }

    public func retirees(except revision: Revision) async throws -> [String] {
        var doomed: [String] = []
        for id in try await ours([Self.serviceLabel: revision.service]) {
            guard let state = try? await engine.inspectContainer(id) else { continue }
            // Only the same target's: a preview and its service's main environment never retire each other.
            if state.labels[Self.deploymentLabel] == "\(revision.deploymentID)"
                || Self.environment(of: state.labels) != revision.environment.rawValue { continue }
            doomed.append(id)
        }
        return doomed
    }

    public func retire(_ instances: [String], of revision: Revision) async throws {
        // All at once: each gets the engine's grace period (SIGTERM, then SIGKILL after 10 s), not one after another.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in instances {
                group.addTask {
                    try await engine.stopContainer(id)
                    try await engine.removeContainer(id)
                }
            }
            try await group.waitForAll()
        }
    }

    public func remove(_ revision: Revision) async throws {
        for id in try await ours([Self.serviceLabel: revision.service, Self.deploymentLabel: "\(revision.deploymentID)"]) {
            try await engine.removeContainer(id)
        }
    }

    public func restart(_ revision: Revision, instances ids: [String]) async throws {
        for id in ids { try await engine.startContainer(id) }
    }

    public func settle(_ revision: Revision) async throws {
        for instance in try await instances(of: revision) {
            try await engine.setRestartPolicy(instance.id, "unless-stopped")
            if !instance.running { try await engine.startContainer(instance.id) }
        }
    }

    public func logTail(_ revision: Revision, instance: String, lines: Int) async throws -> [String] {
        try await engine.logs(instance, tail: lines)
    }

    public func progress(_ revision: Revision) async throws -> RolloutProgress { .done }

    /// Every labelled container of the engine, declared or not: prune finds leftovers this way.
    public func observe(_ policies: [Policy], knownImages: [String: String]) async throws -> [String: [ObservedUnit]] {
        var units: [String: [String: ObservedUnit]] = [:]
        for container in try await engine.containerSummaries(labels: [Self.serviceLabel]) where mine(container.labels) {
            guard let service = container.labels[Self.serviceLabel] else { continue }
            // The reconciler compares main environments; previews are not a service's leftovers.
            guard Self.environment(of: container.labels) == DeploymentTarget.Environment.main.rawValue else { continue }
            let deployment = container.labels[Self.deploymentLabel]
            let key = deployment ?? "image:\(container.image)"
            var unit = units[service]?[key] ?? ObservedUnit(deploymentID: deployment.flatMap { Int64($0) },
                                                             sha: container.labels[Self.shaLabel], image: container.image, running: 0)
            if container.state == "running" || container.state == "restarting" { unit.running += 1 }
            units[service, default: [:]][key] = unit
        }
        return units.mapValues { $0.values.sorted { ($0.deploymentID ?? 0) < ($1.deploymentID ?? 0) } }
    }

    public func tearDown(_ target: DeploymentTarget, policy: Policy?, images: [String]) async throws {
        let labels = [Self.serviceLabel: target.service, Self.environmentLabel: target.environment.rawValue]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in try await ours(labels) {
                group.addTask {
                    // A preview is thrown away: a short grace, not the engine's 10 s, so a closed pull request is gone in seconds.
                    try? await engine.stopContainer(id, timeoutSeconds: Self.teardownGraceSeconds)
                    try await engine.removeContainer(id)
                }
            }
            try await group.waitForAll()
        }
        // The engine's copies of the preview's images (built or pulled here); one still in use elsewhere stays.
        for image in images where (try? await engine.imageExists(image)) == true {
            try? await engine.removeImage(image)
        }
    }

    /// Only services of these policies: another installation sharing the engine owns the rest.
    public func previewTargets(_ policies: [Policy]) async throws -> Set<DeploymentTarget> {
        let known = Set(policies.map(\.service))
        var out: Set<DeploymentTarget> = []
        for container in try await engine.containerSummaries(labels: [Self.serviceLabel, Self.environmentLabel]) where mine(container.labels) {
            guard let service = container.labels[Self.serviceLabel], known.contains(service),
                  let environment = DeploymentTarget.Environment(rawValue: Self.environment(of: container.labels)),
                  environment != .main else { continue }
            out.insert(DeploymentTarget(service: service, environment: environment))
        }
        return out
    }

    public func imagePresence(repository: String, tag: String) async -> ImagePresence {
        do {
            let login = try await auth(try? ImageReference(parsing: "\(repository):\(tag)").registry)
            return try await engine.registryDigest("\(repository):\(tag)", auth: login).map { .present(digest: $0) } ?? .missing
        } catch {
            return .unknown
        }
    }
}
