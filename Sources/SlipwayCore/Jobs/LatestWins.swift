/// Latest wins: a newer build request for a deployment target (a service's environment)
/// makes older ones moot.
public enum LatestWins {
    /// A build job that has not finished.
    public struct PendingBuild: Sendable, Hashable {
        public var jobID: Int64
        public var deploymentID: Int64
        /// The environment of its target (`main`, `pr-N`).
        public var environment: String?
        public var running: Bool
        public init(jobID: Int64, deploymentID: Int64, environment: String?, running: Bool) {
            self.jobID = jobID
            self.deploymentID = deploymentID
            self.environment = environment
            self.running = running
        }
    }

    public enum Action: Sendable, Hashable {
        /// Queued: end it now, state `superseded`.
        case supersede(jobID: Int64, deploymentID: Int64)
        /// Running: ask its worker to stop; it ends as `superseded`.
        case stop(jobID: Int64, deploymentID: Int64)
    }

    /// Why a deployment was superseded, as its reason says.
    public static func reason(supersededBy newer: Int64, sha: String?) -> String {
        "superseded by deployment \(newer)" + (sha.map { " (\(RolloutDecisions.shortSHA($0)))" } ?? "")
    }

    /// What to do with the pending builds of a service when deployment `newer` (of `environment`) is queued.
    public static func actions(newer: Int64, environment: String?, pending: [PendingBuild]) -> [Action] {
        pending
            .filter { $0.deploymentID < newer && $0.environment == environment }
            .sorted { $0.jobID < $1.jobID }
            .map { $0.running ? .stop(jobID: $0.jobID, deploymentID: $0.deploymentID)
                              : .supersede(jobID: $0.jobID, deploymentID: $0.deploymentID) }
    }
}

/// `slipway builds cancel`: what cancelling a deployment means in its current state.
public enum Cancellation {
    public struct PendingJob: Sendable, Hashable {
        public var jobID: Int64
        public var kind: JobKind
        public var running: Bool
        public init(jobID: Int64, kind: JobKind, running: Bool) {
            self.jobID = jobID
            self.kind = kind
            self.running = running
        }
    }

    public enum Decision: Sendable, Hashable {
        case refuse(String)
        /// End the queued jobs now and ask the running ones to stop.
        case cancel(queued: [Int64], running: [Int64])
    }

    public static func decide(deploymentID: Int64, state: DeploymentState, jobs: [PendingJob]) -> Decision {
        switch state {
        case .watching:
            return .refuse("deployment \(deploymentID) is already live; use `slipway rollback` to put the previous revision back")
        case _ where state.isFinal:
            return .refuse("deployment \(deploymentID) already ended (\(state.rawValue)); nothing to cancel")
        case _ where jobs.contains { $0.running && $0.kind == .rollout }:
            // Stopping half way would leave some new containers and some old ones.
            return .refuse("deployment \(deploymentID) is rolling out right now; wait for it, then use `slipway rollback`")
        default:
            return .cancel(queued: jobs.filter { !$0.running }.map(\.jobID).sorted(),
                           running: jobs.filter(\.running).map(\.jobID).sorted())
        }
    }
}
