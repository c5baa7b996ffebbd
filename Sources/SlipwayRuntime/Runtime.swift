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

    public init(service: String, deploymentID: Int64, image: String, sha: String?, count: Int, env: [String: String],
                port: Int? = nil, healthCheck: Policy.HealthCheck? = nil, network: String? = nil) {
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
    /// Starts `revision.count` instances. On failure nothing of the revision is left running.
    func start(_ revision: Revision) async throws -> [Instance]
    func instances(service: String, deploymentID: Int64) async throws -> [Instance]
    /// Stops and removes every instance of `service` that does not belong to `keep`.
    @discardableResult
    func retire(service: String, keep: Int64?) async throws -> Int
    /// Stops and removes the instances of one deployment.
    func remove(service: String, deploymentID: Int64) async throws
    /// Starts stopped instances again.
    func restart(_ instanceIDs: [String]) async throws
    /// The watch is over: from now on the runtime restarts crashed instances by itself.
    func settle(service: String, deploymentID: Int64) async throws
    /// The last lines an instance wrote.
    func logTail(_ instanceID: String, lines: Int) async throws -> [String]
    /// What runs of every service this runtime holds, grouped by service and deployment.
    func observe() async throws -> [String: [ObservedUnit]]
    /// Whether the registry holds `repository:tag`, and its digest.
    func imagePresence(repository: String, tag: String) async -> ImagePresence
}

/// A revision that could not be started. The message goes into the deployment's reason.
public struct RuntimeFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
