import SlipwayCore
import Synchronization

/// "Once per period, per key, on the given clock" (each polled service, queue pruning):
/// due the first time it is asked; `mark` starts the period again once the work went through.
final class Schedule: Sendable {
    let clock: ServiceClock
    private let last = Mutex<[String: Duration]>([:])

    init(clock: ServiceClock) {
        self.clock = clock
    }

    func isDue(_ key: String, period: Duration) -> Bool {
        let now = clock.elapsed()
        return last.withLock { last in last[key].map { now - $0 >= period } ?? true }
    }

    func mark(_ key: String) {
        let now = clock.elapsed()
        last.withLock { $0[key] = now }
    }
}
