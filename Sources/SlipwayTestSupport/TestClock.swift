import Synchronization

/// A clock that moves only when a test says so. Code under test sleeps on it; the test
/// waits until it sleeps (`waitForSleepers`), then `advance`s — no real time passes, so
/// nothing depends on the machine's load.
public final class TestClock: Clock, Sendable {
    public struct Instant: InstantProtocol {
        public var offset: Duration
        public init(offset: Duration) { self.offset = offset }
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        var count: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        /// Tests waiting for the code under test to sleep (woken, not polled: a spinning
        /// test would take the CPU from what it waits for).
        var watchers: [Int: Watcher] = [:]

        mutating func readyWatchers() -> [CheckedContinuation<Void, Never>] {
            let ready = watchers.filter { $0.value.count <= sleepers.count }
            for id in ready.keys { watchers.removeValue(forKey: id) }
            return ready.values.map(\.continuation)
        }
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    /// How many tasks sleep on it now.
    public var sleeping: Int { state.withLock { $0.sleepers.count } }

    /// When the tasks sleeping on it wake, earliest first.
    public var deadlines: [Instant] { state.withLock { $0.sleepers.values.map(\.deadline).sorted() } }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (immediate, watchers) = state.withLock { state -> ((any Error)??, [CheckedContinuation<Void, Never>]) in
                    // Cancelled before the handler could see the sleeper: it must not stay.
                    if Task.isCancelled { return (.some(CancellationError()), []) }
                    if deadline <= state.now { return (.some(nil), []) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (.none, state.readyWatchers())
                }
                for watcher in watchers { watcher.resume() }
                switch immediate {
                case .some(.some(let error)): continuation.resume(throwing: error)
                case .some(.none): continuation.resume()
                case .none: break
                }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Wakes every `waitForSleepers` (the code under test ended without sleeping again).
    /// Call it after making their `done` true.
    public func wakeWaiters() {
        let all = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.watchers.removeAll() }
            return state.watchers.values.map(\.continuation)
        }
        for waiter in all { waiter.resume() }
    }

    /// Moves time on and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Returns once at least `count` tasks sleep on the clock (the code under test reached
    /// its wait), once `done` holds (checked now and at each `wakeWaiters`), or when the
    /// waiting task is cancelled. `done` runs under the clock's lock: it must not use the clock.
    public func waitForSleepers(_ count: Int = 1, unless done: @Sendable () -> Bool = { false }) async {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if Task.isCancelled || state.sleepers.count >= count || done() { return true }
                    state.watchers[id] = Watcher(count: count, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.watchers.removeValue(forKey: id) }?.continuation.resume()
        }
    }
}
