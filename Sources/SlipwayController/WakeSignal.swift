/// Wakes idle workers when work arrives (a NOTIFY, or a job this process queued).
/// `wait` returns on the next `signal` or after `timeout`, whichever comes first.
public actor WakeSignal {
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextID = 0

    public init() {}

    public func signal() {
        let pending = waiters
        waiters.removeAll()
        for continuation in pending.values { continuation.resume() }
    }

    public func wait(timeout: Duration) async {
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
