import Foundation
import SlipwayCore

/// One revision of a service to run: a deployment's image with its settings.
public struct Revision: Sendable, Hashable {
    public var service: String
    public var deploymentID: Int64
    public var image: String
    public var sha: String?
    public var count: Int
    public var env: [String: String]
    public var port: Int?
    public var healthCheck: Policy.HealthCheck?
    /// The network to join; nil: the runtime's default.
    public var network: String?
    /// The whole policy it runs under (the ECS runtime renders its task definition from it).
    public var policy: Policy?
    /// When it went live: instances that stopped before belong to an earlier rollout of the
    /// same runtime revision (ECS reuses task definitions).
    public var since: Date?
    /// What the runtime already knows this revision by (ECS: a task definition ARN to
    /// put back exactly), or nil to render it from the policy.
    public var ref: String?
    /// Which copy of the service: `main`, or a pull request's preview.
    public var environment: DeploymentTarget.Environment = .main

    public var deploymentTarget: DeploymentTarget { DeploymentTarget(service: service, environment: environment) }

    public init(service: String, deploymentID: Int64, image: String, sha: String?, count: Int, env: [String: String],
                port: Int? = nil, healthCheck: Policy.HealthCheck? = nil, network: String? = nil,
                policy: Policy? = nil, ref: String? = nil, since: Date? = nil) {
        self.since = since
        self.policy = policy
        self.ref = ref
        self.port = port
        self.healthCheck = healthCheck
        self.network = network
        self.service = service
        self.deploymentID = deploymentID
        self.image = image
        self.sha = sha
        self.count = count
        self.env = env
    }
}

extension Revision {
    public var target: Policy.Target { policy?.deploy.target ?? .docker }
}

extension Revision {
    /// The revision a deployment runs; nil before it has an image.
    public static func of(_ record: DeploymentRecord, policy: Policy) -> Revision? {
        guard let image = record.image else { return nil }
        var revision = Revision(service: record.service, deploymentID: record.id, image: image, sha: record.sha,
                                count: policy.deploy.count, env: policy.deploy.env, port: policy.deploy.port,
                                healthCheck: policy.deploy.healthCheck, network: policy.deploy.network, policy: policy,
                                ref: record.runtimeRef, since: record.liveAt)
        revision.environment = record.environment
        return revision
    }
}

/// What `start` did: the runtime's name for the revision (ECS: its task definition ARN).
public struct Started: Sendable, Hashable {
    public var ref: String?
    public var instances: [Instance]

    public init(ref: String? = nil, instances: [Instance]) {
        self.ref = ref
        self.instances = instances
    }
}

/// What a service runs now, as the runtime names it (ECS: the service's task definition and its image).
public struct RunningRevision: Sendable, Hashable {
    public var ref: String
    public var image: String
    public init(ref: String, image: String) {
        self.ref = ref
        self.image = image
    }
}

/// How far the runtime's own rollout of a revision has got.
public enum RolloutProgress: Sendable, Hashable {
    /// Done, or the runtime has no rollout of its own (Docker: started is done).
    case done
    case inProgress(String)
    /// The runtime gave up on it (ECS's deployment circuit breaker).
    case failed(String)
}

/// One running (or stopped) copy of a revision: a container, or an ECS task.
public struct Instance: Sendable, Hashable {
    public var id: String
    public var name: String
    public var running: Bool
    public var exitCode: Int?
    public var finishedAt: Date?
    public var detail: String

    public init(id: String, name: String, running: Bool, exitCode: Int?, finishedAt: Date?, detail: String) {
        self.id = id
        self.name = name
        self.running = running
        self.exitCode = exitCode
        self.finishedAt = finishedAt
        self.detail = detail
    }

    /// Stopped, with an exit code: what the crash watch looks at.
    public var exit: CrashWatch.Exit? {
        guard !running, let exitCode, let finishedAt else { return nil }
        return CrashWatch.Exit(instance: id, exitCode: exitCode, finishedAt: finishedAt)
    }
}

/// Where revisions run. Each call is safe to repeat: a job retried after a crash
/// calls it again with the same arguments.
public protocol Runtime: Sendable {
    /// What the revision's service runs now, when the runtime holds one revision per service
    /// (ECS); nil otherwise, or when the service does not exist yet.
    func current(_ revision: Revision) async throws -> RunningRevision?
    /// Starts `revision.count` instances. On failure nothing of the revision is left running.
    func start(_ revision: Revision) async throws -> Started
    func instances(of revision: Revision) async throws -> [Instance]
    /// The instances of the revision's service that are not of `revision`: what retiring
    /// them would stop. Asked under the target's lock; the stopping happens after it.
    func retirees(except revision: Revision) async throws -> [String]
    /// Stops (with the runtime's grace) and removes these instances. Instances gone meanwhile are skipped.
    func retire(_ instances: [String], of revision: Revision) async throws
    /// Stops and removes the instances of one revision.
    func remove(_ revision: Revision) async throws
    /// Starts stopped instances again.
    func restart(_ revision: Revision, instances: [String]) async throws
    /// The watch is over: from now on the runtime restarts crashed instances by itself.
    func settle(_ revision: Revision) async throws
    /// The last lines an instance wrote.
    func logTail(_ revision: Revision, instance: String, lines: Int) async throws -> [String]
    /// The runtime's own view of the rollout.
    func progress(_ revision: Revision) async throws -> RolloutProgress
    /// What runs of the given services (and, for runtimes that can tell, of others they
    /// hold), grouped by service. `knownImages` maps refs Slipway rolled out to their
    /// images, so the runtime need not look them up.
    func observe(_ policies: [Policy], knownImages: [String: String]) async throws -> [String: [ObservedUnit]]
    /// Whether the registry holds `repository:tag`, and its digest.
    func imagePresence(repository: String, tag: String) async -> ImagePresence
    /// Removes everything a preview target runs and owns (instances, its ECS service and
    /// task definitions, load-balancer rule and target group) and the local copies of
    /// `images`. Safe to repeat; what is gone already is skipped.
    func tearDown(_ target: DeploymentTarget, policy: Policy?, images: [String]) async throws
    /// The preview targets the runtime holds for these policies (and, where it can tell,
    /// of services no policy declares any more): what the preview sweep compares with the database.
    func previewTargets(_ policies: [Policy]) async throws -> Set<DeploymentTarget>
}

extension Runtime {
    /// Stops and removes every instance of the revision's service that is not of `revision`.
    @discardableResult
    public func retire(except revision: Revision) async throws -> Int {
        let doomed = try await retirees(except: revision)
        try await retire(doomed, of: revision)
        return doomed.count
    }
}

/// A revision that could not be started. The message goes into the deployment's reason.
public struct RuntimeFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
