import Foundation

/// One rollout of a built deployment, decided step by step: the rollout job feeds in what
/// it saw and carries out the action returned, so every branch is a table row in tests.
/// The order of the last step is the point: the new revision is live and watched *before*
/// the previous one is asked to stop, and that stop is a job of its own, so a slow
/// shutdown of the old revision never delays the watch or a rollback.
public struct RolloutMachine: Sendable {
    public enum State: Sendable, Hashable {
        case initial
        case starting
        case ended
    }

    public enum Action: Sendable, Hashable {
        /// The deployment ended before its rollout (cancelled, superseded meanwhile): do nothing.
        case none
        /// End the deployment without touching what runs.
        case end(DeploymentState, reason: String)
        /// Mark it rolling out and start the revision (recording first what an ECS service runs).
        case start
        /// It crashed as it started: remove it, keep the previous revision, end rolled back.
        /// The reason's first part is `CrashReport.reason`, composed by the job with the log tail.
        case rollBackAtStart(cause: CrashWatch.Exit, crashes: Int, suffix: String)
        /// Make it live, queue its watch, then queue the retirement of what it replaces.
        case goLive
    }

    public private(set) var state: State = .initial
    let deployment: DeploymentRecord
    let live: DeploymentRecord?
    let watch: CrashWatch

    public init(deployment: DeploymentRecord, live: DeploymentRecord?, watch: CrashWatch) {
        self.deployment = deployment
        self.live = live
        self.watch = watch
    }

    /// Under the target's lock, with the deployment read again.
    public mutating func begin() -> Action {
        guard state == .initial else { return .none }
        // Ended meanwhile, or already live (a rollout job run again after its first attempt
        // went live): nothing to start, and the live revision is not touched.
        guard DeploymentTransitions.allows(from: deployment.state, to: .rollingOut) else {
            state = .ended
            return .none
        }
        if case .supersede(let reason) = RolloutDecisions.gate(deployment, live: live) {
            state = .ended
            return .end(.superseded, reason: reason)
        }
        guard deployment.image != nil else {
            state = .ended
            return .end(.failed, reason: "nothing to roll out: the deployment has no image")
        }
        state = .starting
        return .start
    }

    /// The runtime refused or failed to start the revision; it left nothing of it running.
    public mutating func startFailed(_ message: String) -> Action {
        guard state == .starting else { return .none }
        state = .ended
        return .end(.failed, reason: "\(message); the running revision was not touched")
    }

    /// The revision started; `exits` are its instances already stopped. A crash here counts
    /// like a crash in the window, before the previous revision was touched.
    public mutating func started(exits: [CrashWatch.Exit], now: Date) -> Action {
        guard state == .starting else { return .none }
        state = .ended
        if case .rollBack(let cause, let crashes, _) = watch.verdict(liveAt: now, now: now, recorded: [], exits: exits) {
            return .rollBackAtStart(cause: cause, crashes: crashes, suffix: "The previous revision kept running.")
        }
        return .goLive
    }
}

/// Putting the last good revision back in place of a failing one. The job that found the
/// failure (the watch) carries out the actions under the target's lock. Retiring the
/// failing revision is queued, never awaited: the service is rolled back once the earlier
/// revision has started.
public struct RollbackMachine: Sendable {
    public enum Action: Sendable, Hashable {
        case none
        /// No earlier good revision: remove the failing one, clear the live pointer, end failed.
        case stopService(reason: String)
        /// Start this earlier revision.
        case startTarget(DeploymentRecord)
        /// It runs: make it live, end the failing deployment rolled back, retire the rest.
        case restored(target: DeploymentRecord, reason: String)
        /// It did not start either: the failing revision stays (half a service beats none).
        case giveUp(reason: String)
    }

    enum State: Sendable, Hashable {
        case initial
        case starting(DeploymentRecord)
        case ended
    }

    var state: State = .initial
    let failing: DeploymentRecord
    let history: [DeploymentRecord]
    let reason: String

    /// - Parameter reason: why the failing revision goes (the crash report, or the runtime's word).
    public init(failing: DeploymentRecord, history: [DeploymentRecord], reason: String) {
        self.failing = failing
        self.history = history
        self.reason = reason
    }

    public mutating func begin() -> Action {
        guard state == .initial else { return .none }
        guard let target = RolloutDecisions.rollbackTarget(for: failing.id, history: history) else {
            state = .ended
            return .stopService(reason: reason + "\nNo earlier good deployment to roll back to; the service is stopped.")
        }
        state = .starting(target)
        return .startTarget(target)
    }

    public mutating func targetStarted() -> Action {
        guard case .starting(let target) = state else { return .none }
        state = .ended
        let to = "deployment \(target.id)" + (target.sha.map { " (\(RolloutDecisions.shortSHA($0)))" } ?? "")
        return .restored(target: target, reason: reason + "\nRolled back to \(to).")
    }

    public mutating func targetFailed(_ message: String) -> Action {
        guard case .starting(let target) = state else { return .none }
        state = .ended
        return .giveUp(reason: reason + "\nRolling back to deployment \(target.id) failed too: \(message)")
    }
}

/// The reason text of a crash: which instance, which exit code, and the last lines it wrote.
public enum CrashReport {
    public static let logLines = 20

    public static func reason(cause: CrashWatch.Exit, crashes: Int, watch: CrashWatch,
                              instanceName: String?, detail: String?, lastLines: [String]) -> String {
        var text = "\(instanceName ?? String(cause.instance.prefix(12))) exited with code \(cause.exitCode)"
        if let detail, detail.contains("OOM") || detail.contains("OutOfMemory") { text += " (killed for using too much memory)" }
        if let detail, detail.hasPrefix("container ") { text += " (\(detail))" }
        text += "; \(crashes) crash\(crashes == 1 ? "" : "es") within \(watch.window) of going live (rollback.crashes: \(watch.threshold))."
        if !lastLines.isEmpty {
            text += "\nLast log lines:\n" + lastLines.joined(separator: "\n")
        }
        return text
    }
}
