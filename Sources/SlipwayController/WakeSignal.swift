/// Wakes idle workers when work arrives (a NOTIFY, a job this process queued, a free slot).
/// Waiting starts from a generation read before the caller looked for work, so a signal
/// that came in between is never missed.
public actor WakeSignal {
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextID = 0
    public private(set) var generation = 0

    public init() {}

    public func signal() {
        generation &+= 1
        let pending = waiters
        waiters.removeAll()
        for continuation in pending.values { continuation.resume() }
    }

    /// Returns at the next signal after `since` (at once if one came already), after `timeout`, or on cancellation.
    public func wait(since: Int? = nil, timeout: Duration) async {
        if let since, since != generation { return }
        let id = nextID
        nextID += 1
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Cancelled before waiting: do not wait. Cancelled later: `onCancel` ends the wait.
                if Task.isCancelled { continuation.resume() } else { waiters[id] = continuation }
            }
        } onCancel: {
            Task { await self.expire(id) }
        }
        timer.cancel()
    }

    private func expire(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
    }
}
