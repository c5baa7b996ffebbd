import SlipwayCore
import Synchronization

/// "Every `every`, on the given clock": due the first time it is asked, then once per
/// period. Keyed, for one period per key (each polled service).
final class Schedule: Sendable {
    let every: Duration
    let clock: ServiceClock
    private let last = Mutex<[String: Duration]>([:])

    init(every: Duration, clock: ServiceClock) {
        self.every = every
        self.clock = clock
    }

    /// Whether `key` is due now; when it is, its period starts again.
    func due(_ key: String = "") -> Bool {
        let now = clock.elapsed()
        return last.withLock { last in
            if let then = last[key], now - then < every { return false }
            last[key] = now
            return true
        }
    }

    /// Whether `key` is due after `period`, without starting it again (see `mark`).
    func isDue(_ key: String, period: Duration) -> Bool {
        let now = clock.elapsed()
        return last.withLock { last in last[key].map { now - $0 >= period } ?? true }
    }

    func mark(_ key: String) {
        let now = clock.elapsed()
        last.withLock { $0[key] = now }
    }
}
