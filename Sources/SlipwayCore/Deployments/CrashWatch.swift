import Foundation

/// The rollback rule applied while a new revision is watched: after it goes live,
/// `crashes` non-zero exits inside `window` roll it back; a window that passes with
/// fewer makes it succeed. Pure: the watcher feeds observations in and acts on the verdict.
public struct CrashWatch: Sendable, Hashable {
    /// One stopped instance (container or task) of the watched revision.
    public struct Exit: Sendable, Hashable {
        public var instance: String
        public var exitCode: Int
        public var finishedAt: Date
        public init(instance: String, exitCode: Int, finishedAt: Date) {
            self.instance = instance
            self.exitCode = exitCode
            self.finishedAt = finishedAt
        }
        /// Identifies this exit across observations, so one crash is counted once.
        public var key: String { "\(instance)@\(Int64((finishedAt.timeIntervalSince1970 * 1000).rounded()))" }
        public var isCrash: Bool { exitCode != 0 }
    }

    public enum Verdict: Sendable, Hashable {
        /// Keep watching; start these stopped instances again first.
        case watch(restart: [String], newCrashes: [Exit])
        /// Threshold reached: put the previous revision back.
        case rollBack(cause: Exit, crashes: Int, newCrashes: [Exit])
        /// The window passed; start these stopped instances again and hand over to the runtime's restart policy.
        case succeed(restart: [String])
    }

    public var window: TimeSpan
    public var threshold: Int

    public init(window: TimeSpan, threshold: Int) {
        self.window = window
        self.threshold = max(1, threshold)
    }

    public init(_ rollback: Policy.Rollback) {
        self.init(window: rollback.window, threshold: rollback.crashes)
    }

    public func windowEnd(liveAt: Date) -> Date {
        liveAt.addingTimeInterval(window.seconds)
    }

    /// How long past its window a watch waits for a runtime that is still rolling out
    /// (ECS starting tasks): crashes keep counting until the rollout is done or this passes.
    public static let rolloutGrace: TimeInterval = 15 * 60

    /// The end of the watch while the runtime reports its rollout in progress at `now`.
    public func extendedEnd(liveAt: Date, now: Date) -> Date {
        let end = windowEnd(liveAt: liveAt)
        return min(end.addingTimeInterval(Self.rolloutGrace), max(end, now.addingTimeInterval(1)))
    }

    /// - Parameters:
    ///   - recorded: keys of crashes already counted on earlier observations.
    ///   - exits: instances found stopped now.
    ///   - until: a later end than the window's, while the runtime is still rolling out.
    public func verdict(liveAt: Date, now: Date, recorded: Set<String>, exits: [Exit], until: Date? = nil) -> Verdict {
        let end = max(windowEnd(liveAt: liveAt), until ?? .distantPast)
        let inWindow = exits.filter { $0.isCrash && $0.finishedAt <= end }
        let newCrashes = inWindow.filter { !recorded.contains($0.key) }
        let total = recorded.count + newCrashes.count
        if total >= threshold, let cause = inWindow.max(by: { $0.finishedAt < $1.finishedAt }) {
            return .rollBack(cause: cause, crashes: total, newCrashes: newCrashes)
        }
        let restart = exits.map(\.instance).sorted()
        if now >= end {
            return .succeed(restart: restart)
        }
        return .watch(restart: restart, newCrashes: newCrashes)
    }
}
