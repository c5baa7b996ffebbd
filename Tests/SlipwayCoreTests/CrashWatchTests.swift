import Foundation
import SlipwayCore
import Testing

@Suite struct CrashWatchTests {
    let liveAt = Date(timeIntervalSince1970: 1_000_000)
    func at(_ seconds: Double) -> Date { liveAt.addingTimeInterval(seconds) }
    func exit(_ id: String, code: Int, after seconds: Double) -> CrashWatch.Exit {
        CrashWatch.Exit(instance: id, exitCode: code, finishedAt: at(seconds))
    }

    @Test func quietRevisionKeepsBeingWatchedThenSucceeds() {
        let watch = CrashWatch(window: .seconds(60), threshold: 1)
        #expect(watch.verdict(liveAt: liveAt, now: at(10), recorded: [], exits: []) == .watch(restart: [], newCrashes: []))
        #expect(watch.verdict(liveAt: liveAt, now: at(60), recorded: [], exits: []) == .succeed(restart: []))
    }

    @Test func firstCrashRollsBackAtThresholdOne() {
        let watch = CrashWatch(window: .seconds(60), threshold: 1)
        let crash = exit("c1", code: 3, after: 2)
        #expect(watch.verdict(liveAt: liveAt, now: at(2.5), recorded: [], exits: [crash])
                == .rollBack(cause: crash, crashes: 1, newCrashes: [crash]))
    }

    @Test func crashesBelowThresholdAreCountedOnceAndRestarted() {
        let watch = CrashWatch(window: .seconds(60), threshold: 3)
        let first = exit("c1", code: 1, after: 5)
        #expect(watch.verdict(liveAt: liveAt, now: at(6), recorded: [], exits: [first])
                == .watch(restart: ["c1"], newCrashes: [first]))
        // Seen again before the restart took effect: not counted twice.
        #expect(watch.verdict(liveAt: liveAt, now: at(6.5), recorded: [first.key], exits: [first])
                == .watch(restart: ["c1"], newCrashes: []))
        let second = exit("c1", code: 1, after: 9)
        let third = exit("c2", code: 137, after: 9.5)
        #expect(watch.verdict(liveAt: liveAt, now: at(10), recorded: [first.key, second.key], exits: [third])
                == .rollBack(cause: third, crashes: 3, newCrashes: [third]))
    }

    @Test func cleanExitIsNotACrash() {
        let watch = CrashWatch(window: .seconds(60), threshold: 1)
        let clean = exit("c1", code: 0, after: 3)
        #expect(watch.verdict(liveAt: liveAt, now: at(4), recorded: [], exits: [clean]) == .watch(restart: ["c1"], newCrashes: []))
    }

    @Test func crashAfterTheWindowDoesNotCount() {
        let watch = CrashWatch(window: .seconds(10), threshold: 1)
        let late = exit("c1", code: 2, after: 11)
        #expect(watch.verdict(liveAt: liveAt, now: at(11.2), recorded: [], exits: [late]) == .succeed(restart: ["c1"]))
    }

    @Test func thresholdBelowOneMeansOne() {
        #expect(CrashWatch(window: .seconds(5), threshold: 0).threshold == 1)
    }
}

/// While the runtime still rolls out (ECS starting tasks), the watch runs past its window
/// and crashes keep counting, up to `rolloutGrace`.
@Suite struct CrashWatchExtensionTests {
    let liveAt = Date(timeIntervalSince1970: 1_000_000)
    func at(_ seconds: Double) -> Date { liveAt.addingTimeInterval(seconds) }

    @Test func aRolloutInProgressExtendsTheWatch() {
        let watch = CrashWatch(window: .seconds(60), threshold: 1)
        #expect(watch.extendedEnd(liveAt: liveAt, now: at(10)) == at(60))
        #expect(watch.extendedEnd(liveAt: liveAt, now: at(90)) == at(91))
        #expect(watch.extendedEnd(liveAt: liveAt, now: at(10_000)) == at(60 + CrashWatch.rolloutGrace))

        // Past the window: without the extension it succeeds; with it, a late crash still rolls back.
        let late = CrashWatch.Exit(instance: "task-1", exitCode: 1, finishedAt: at(80))
        #expect(watch.verdict(liveAt: liveAt, now: at(90), recorded: [], exits: []) == .succeed(restart: []))
        #expect(watch.verdict(liveAt: liveAt, now: at(90), recorded: [], exits: [], until: at(91)) == .watch(restart: [], newCrashes: []))
        #expect(watch.verdict(liveAt: liveAt, now: at(90), recorded: [], exits: [late], until: at(91))
                == .rollBack(cause: late, crashes: 1, newCrashes: [late]))
        // An `until` before the window's end never shortens it.
        #expect(watch.verdict(liveAt: liveAt, now: at(30), recorded: [], exits: [], until: at(20)) == .watch(restart: [], newCrashes: []))
    }
}
