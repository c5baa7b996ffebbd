import SlipwayCore

/// Delivers "stop this job" (from NOTIFY on the cancel channel) to the worker running it.
public actor StopSignals {
    private enum Entry {
        case waiting(CheckedContinuation<StopReason?, Never>?)
        case stopped(StopReason)
    }

    private var entries: [Int64: Entry] = [:]

    public init() {}

    /// Called when a job starts here; stop requests for jobs not registered are for other processes.
    public func register(_ jobID: Int64) {
        entries[jobID] = .waiting(nil)
    }

    public func forget(_ jobID: Int64) {
        if case .waiting(let continuation?) = entries.removeValue(forKey: jobID) { continuation.resume(returning: nil) }
    }

    public func stop(_ jobID: Int64, reason: StopReason) {
        switch entries[jobID] {
        case .waiting(let continuation?):
            entries[jobID] = .stopped(reason)
            continuation.resume(returning: reason)
        case .waiting(nil):
            entries[jobID] = .stopped(reason)
        case .stopped, nil:
            return
        }
    }

    /// Returns the reason once the job is asked to stop; nil when the wait is cancelled or the job forgotten.
    public func wait(_ jobID: Int64) async -> StopReason? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                switch entries[jobID] {
                case .stopped(let reason): continuation.resume(returning: reason)
                case .waiting, nil:
                    if Task.isCancelled || entries[jobID] == nil { continuation.resume(returning: nil) } else {
                        entries[jobID] = .waiting(continuation)
                    }
                }
            }
        } onCancel: {
            Task { await self.cancelWait(jobID) }
        }
    }

    private func cancelWait(_ jobID: Int64) {
        if case .waiting(let continuation?) = entries[jobID] {
            entries[jobID] = .waiting(nil)
            continuation.resume(returning: nil)
        }
    }
}
