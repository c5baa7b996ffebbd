import Foundation
import Logging
import SlipwayBuild
import SlipwayCore
import SlipwayGit
import SlipwayRegistry
import SlipwayRuntime
import SlipwayStore
import SlipwaySystem

/// What the deployment job handlers work with: one real implementation of each seam.
public struct Pipeline: Sendable {
    public let store: Store
    public let git: any GitFetcher
    public let builder: any Builder
    public let runtime: any Runtime
    /// Work dirs for checkouts live here, one per build, removed after it.
    public let workDirectory: String
    public let dockerNetwork: String?
    /// How often a watched revision is looked at.
    public let watchInterval: Duration
    /// Wall time, for what is compared with the runtime's timestamps (a crash's exit).
    public let now: @Sendable () -> Date
    /// The waits between looks at a watched revision run on it.
    public let clock: ServiceClock
    /// Zero-config builds: base image overrides for every service (a policy's own win).
    public let baseImages: [String: String]
    /// Asked after each push whether it holds the digest the builder reported; nil: not asked.
    public let registry: (any Registry)?
    /// Reads the secrets policies name (build secrets, registry logins), within the operator's rules.
    public let secrets: SecretReader

    public init(store: Store, git: any GitFetcher, builder: any Builder, runtime: any Runtime,
                workDirectory: String, dockerNetwork: String?, watchInterval: Duration = .milliseconds(500),
                baseImages: [String: String] = [:], registry: (any Registry)? = nil, secrets: SecretReader = .standard,
                now: @escaping @Sendable () -> Date = { Date() }, clock: ServiceClock = .continuous) {
        self.clock = clock
        self.secrets = secrets
        self.baseImages = baseImages
        self.registry = registry
        self.store = store
        self.git = git
        self.builder = builder
        self.runtime = runtime
        self.workDirectory = workDirectory
        self.dockerNetwork = dockerNetwork
        self.watchInterval = watchInterval
        self.now = now
    }

    /// How often a watched revision of `target` is looked at. An ECS look is four API
    /// calls (the service, running and stopped tasks, their details): every 2 s at most,
    /// so many rollouts at once stay clear of ECS's request limits.
    func watchInterval(_ target: Policy.Target) -> Duration {
        target == .ecs ? max(watchInterval, .seconds(2)) : watchInterval
    }

    /// The handlers of every job kind.
    public var handlers: [any JobHandler] {
        [BuildHandler(pipeline: self), RolloutHandler(pipeline: self), WatchHandler(pipeline: self), RetireHandler(pipeline: self),
         PathsHandler(pipeline: self), PreviewHandler(pipeline: self), TeardownHandler(pipeline: self)]
    }

    func revision(of deployment: DeploymentRow) -> Revision? {
        Revision.of(deployment.record, policy: deployment.policy)
    }
}

/// Build output and progress of one deployment, written to its log as it happens.
struct DeploymentLog: BuildObserver {
    let store: Store
    let deploymentID: Int64
    let logger: Logger
    /// The job's attempt: a retried build records its steps again.
    var attempt: Int = 1

    func phase(_ phase: BuildPhase) async {
        let state: DeploymentState = phase == .building ? .building : .pushing
        do { try await store.transition(deploymentID, to: state) } catch {
            logger.warning("could not record the build phase", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    func log(_ lines: [String]) async {
        do { try await store.appendLogs(deploymentID, stream: "build", lines: lines) } catch {
            logger.warning("could not store build output", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    func note(_ line: String) async { await log([line]) }

    /// Each step change is an event (`kind: step`), for `slipway logs` and the live stream.
    func step(_ step: BuildStep) async {
        var detail = ["number": "\(step.number)", "name": step.name, "state": step.state.rawValue]
        detail["seconds"] = step.seconds.map { String(format: "%.3f", $0) }
        detail["error"] = step.error
        let message = "#\(step.number) \(step.state.rawValue)\(step.seconds.map { String(format: " %.1fs", $0) } ?? ""): \(step.name)"
        do {
            try await store.addEvent(deploymentID, kind: "step", key: "\(attempt):\(step.number):\(step.state.rawValue)", message: message,
                                     detail: detail.merging(["attempt": "\(attempt)"]) { a, _ in a })
        } catch {
            logger.warning("could not record a build step", metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}
