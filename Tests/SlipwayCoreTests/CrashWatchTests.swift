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
