/// Time as Slipway's long-running services see it: a monotonic reading and a sleep. Made
/// from any `Clock` with `Duration` steps — the continuous clock in production, a manual
/// one in tests — so a loop's timing is driven by the test, not by the machine's load.
public struct ServiceClock: Sendable {
    /// Time since an arbitrary, fixed origin.
    public let elapsed: @Sendable () -> Duration
    public let sleep: @Sendable (Duration) async throws -> Void

    public init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleep = { try await clock.sleep(until: clock.now.advanced(by: $0), tolerance: nil) }
    }

    public static var continuous: ServiceClock { ServiceClock(ContinuousClock()) }
}
