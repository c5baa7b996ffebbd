import Synchronization

/// Webhook bodies held in memory at once, across all requests: at most `limit` bytes, counted
/// as they arrive, and at most `readers` large bodies being read (each connection being read
/// also has the server's own buffers in flight, up to its body's size). Past either, a request is answered 503 with
/// `Retry-After` (providers redeliver), so a flood of large bodies cannot take the memory.
public final class BodyBudget: Sendable {
    public let limit: Int
    public let readers: Int
    private let state = Mutex((bytes: 0, readers: 0))

    public init(limit: Int, readers: Int = 32) {
        self.limit = limit
        self.readers = readers
    }

    /// A place to read one body; false when `readers` are being read already.
    public func enter() -> Bool {
        state.withLock { state in
            guard state.readers < readers else { return false }
            state.readers += 1
            return true
        }
    }

    public func leave() {
        state.withLock { $0.readers -= 1 }
    }

    /// Takes `bytes` from the budget; false (and nothing taken) when they do not fit.
    public func reserve(_ bytes: Int) -> Bool {
        state.withLock { state in
            guard state.bytes + bytes <= limit else { return false }
            state.bytes += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        state.withLock { $0.bytes -= bytes }
    }

    public var inUse: Int { state.withLock { $0.bytes } }
}
