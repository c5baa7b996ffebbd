import Synchronization

/// Bytes of webhook bodies held in memory at once, across all requests. Each body is
/// counted as it arrives; past the budget a request is answered 503 with `Retry-After`
/// (providers redeliver), so a flood of large bodies cannot take the process's memory.
public final class BodyBudget: Sendable {
    public let limit: Int
    private let used = Mutex(0)

    public init(limit: Int) { self.limit = limit }

    /// Takes `bytes` from the budget; false (and nothing taken) when they do not fit.
    public func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        used.withLock { $0 -= bytes }
    }

    public var inUse: Int { used.withLock { $0 } }
}
