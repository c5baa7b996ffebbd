import SlipwayCore
import Synchronization

/// Delivers "stop this job" (from NOTIFY on the cancel channel) to whichever worker
/// pool of this process runs it.
public final class StopSignals: Sendable {
    private let subscribers = Mutex<[@Sendable (Int64, StopReason) -> Void]>([])

    public init() {}

    func subscribe(_ deliver: @escaping @Sendable (Int64, StopReason) -> Void) {
        subscribers.withLock { $0.append(deliver) }
    }

    public func stop(_ jobID: Int64, reason: StopReason) {
        for deliver in subscribers.withLock({ $0 }) { deliver(jobID, reason) }
    }
}
