import Synchronization

/// Wakes idle workers when work arrives (a NOTIFY, a job this process queued, a free slot).
/// Waiting starts from a generation read before the caller looked for work, so a signal
/// that came in between is never missed. Signalling is a lock, not an actor hop: it
/// happens once per finished job.
public final class WakeSignal: Sendable {
    private struct State {
        var generation = 0
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public var generation: Int { state.withLock { $0.generation } }

    public func signal() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation &+= 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Returns at the next signal after `since` (at once if one came already), after `timeout`, or on cancellation.
    public func wait(since: Int? = nil, timeout: Duration) async {
        let id = state.withLock { state -> Int? in
            if let since, since != state.generation { return nil }
            defer { state.nextID += 1 }
            return state.nextID
        }
        guard let id else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.expire(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waiting = state.withLock { state -> Bool in
                    // Cancelled, or signalled since the generation was read: do not wait.
                    guard !Task.isCancelled, since == nil || since == state.generation else { return false }
                    state.waiters[id] = continuation
                    return true
                }
                if !waiting { continuation.resume() }
            }
        } onCancel: {
            expire(id)
        }
        timer.cancel()
    }

    private func expire(_ id: Int) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
    }
}
