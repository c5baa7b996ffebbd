import Logging
import SlipwayController
import SlipwayCore
import SlipwayTestSupport
import Synchronization
import Testing

/// The lease in memory: who holds it, and every call made.
final class MemoryLease: Lease {
    let name = "test"
    private let state = Mutex((grant: true, holder: String?.none, acquires: 0, releases: 0))

    func acquire(holder: String, ttl: TimeSpan) async throws -> Bool {
        state.withLock { state in
            state.acquires += 1
            guard state.grant, state.holder == nil || state.holder == holder else { return false }
            state.holder = holder
            return true
        }
    }

    func release(holder: String) async throws {
        state.withLock { state in
            state.releases += 1
            if state.holder == holder { state.holder = nil }
        }
    }

    /// Another replica takes it (or gives it back).
    func takenElsewhere(_ taken: Bool) {
        state.withLock { state in
            state.grant = !taken
            state.holder = taken ? "other" : nil
        }
    }

    var acquires: Int { state.withLock { $0.acquires } }
    var releases: Int { state.withLock { $0.releases } }
    var holder: String? { state.withLock { $0.holder } }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

@Suite struct LeasedLoopTests {
    static let settings = LeasedLoop.Settings(interval: .seconds(1), ttl: .seconds(9))

    /// Waits for a condition the code under test reaches without the test clock moving
    /// (asked every millisecond: a spinning wait would take the CPU from what it waits for).
    func until(_ condition: () -> Bool) async {
        while !condition() { try? await Task.sleep(for: .milliseconds(1)) }
    }

    @Test func passesRunOnlyWhileTheLeaseIsHeld() async throws {
        let clock = TestClock(), lease = MemoryLease(), passes = Counter()
        lease.takenElsewhere(true)
        let loop = LeasedLoop(lease: lease, holder: "me", settings: Self.settings, clock: ServiceClock(clock), logger: Logger(label: "t")) {
            passes.add()
        }
        let task = Task { try await loop.run() }
        for _ in 0..<3 {
            await clock.waitForSleepers()
            clock.advance(by: .seconds(1))
        }
        await until { lease.acquires >= 4 }
        #expect(passes.count == 0)
        lease.takenElsewhere(false)
        await clock.waitForSleepers()
        clock.advance(by: .seconds(1))
        await until { passes.count == 1 }
        #expect(lease.holder == "me")
        task.cancel()
        _ = try? await task.value
        #expect(lease.releases == 1 && lease.holder == nil, "handed over at once on shutdown")
    }

    @Test func aLongPassKeepsItsLeaseRenewed() async throws {
        let clock = TestClock(), lease = MemoryLease()
        let release = AsyncStream<Void>.makeStream()
        let finished = Counter()
        let loop = LeasedLoop(lease: lease, holder: "me", settings: Self.settings, clock: ServiceClock(clock), logger: Logger(label: "t")) {
            for await _ in release.stream { break }
            finished.add()
        }
        let task = Task { try await loop.run() }
        // The pass waits; the renewal sleeps a third of the TTL (3 s) on the clock.
        await clock.waitForSleepers()
        let before = lease.acquires
        for round in 1...3 {
            clock.advance(by: .seconds(3))
            await until { lease.acquires == before + round }
            await clock.waitForSleepers()
        }
        #expect(finished.count == 0)
        release.continuation.yield()
        await until { finished.count == 1 }
        task.cancel()
        _ = try? await task.value
    }

    @Test func aLeaseLostDuringAPassStopsThePass() async throws {
        let clock = TestClock(), lease = MemoryLease(), stopped = Counter()
        let loop = LeasedLoop(lease: lease, holder: "me", settings: Self.settings, clock: ServiceClock(clock), logger: Logger(label: "t")) {
            // A pass that would run for an hour.
            do { try await clock.sleep(for: .seconds(3600)) } catch { stopped.add() }
        }
        let task = Task { try await loop.run() }
        await clock.waitForSleepers(2)    // the pass and the renewal
        lease.takenElsewhere(true)
        clock.advance(by: .seconds(3))
        await until { stopped.count == 1 }
        task.cancel()
        _ = try? await task.value
        #expect(lease.holder == "other", "a replica that lost the lease does not release the new holder's")
    }

    @Test func aFailingPassIsTriedAgainNextInterval() async throws {
        struct Boom: Error {}
        let clock = TestClock(), lease = MemoryLease(), passes = Counter()
        let loop = LeasedLoop(lease: lease, holder: "me", settings: Self.settings, clock: ServiceClock(clock), logger: Logger(label: "t")) {
            passes.add()
            throw Boom()
        }
        let task = Task { try await loop.run() }
        await until { passes.count == 1 }
        // Only the pause before the next pass sleeps (the failed pass's lease renewal has ended).
        await until { clock.deadlines == [clock.now.advanced(by: .seconds(1))] }
        clock.advance(by: .seconds(1))
        await until { passes.count == 2 }
        task.cancel()
        _ = try? await task.value
    }

    @Test func theFirstPassCanWaitOneInterval() async throws {
        let clock = TestClock(), lease = MemoryLease(), passes = Counter()
        var settings = Self.settings
        settings.waitFirst = true
        let loop = LeasedLoop(lease: lease, holder: "me", settings: settings, clock: ServiceClock(clock), logger: Logger(label: "t")) {
            passes.add()
        }
        let task = Task { try await loop.run() }
        await clock.waitForSleepers()
        #expect(passes.count == 0 && lease.acquires == 0)
        clock.advance(by: .seconds(1))
        await until { passes.count == 1 }
        task.cancel()
        _ = try? await task.value
    }
}
