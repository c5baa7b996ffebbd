import Foundation
import SlipwayCore
import Testing

@Suite struct RolloutDecisionsTests {
    func record(_ id: Int64, _ state: DeploymentState, trigger: DeploymentTrigger = .push, live: Double? = nil,
                image: String? = "img:\(UUID().uuidString.prefix(4))") -> DeploymentRecord {
        DeploymentRecord(id: id, service: "web", trigger: trigger, state: state, sha: "sha\(id)", image: image,
                         createdAt: Date(timeIntervalSince1970: Double(id)),
                         liveAt: live.map { Date(timeIntervalSince1970: $0) })
    }

    @Test func rollbackTargetIsTheMostRecentlyLiveGoodRevision() {
        let history = [
            record(1, .succeeded, live: 10),
            record(2, .succeeded, live: 20),
            record(3, .failed),
            record(4, .rolledBack, live: 40),
            record(5, .watching, live: 50),
        ]
        #expect(RolloutDecisions.rollbackTarget(for: 5, history: history)?.id == 2)
    }

    @Test func aRevisionPutBackByRollbackIsPreferredOverANewerId() {
        let history = [record(1, .succeeded, live: 90), record(2, .succeeded, live: 20), record(3, .watching, live: 100)]
        #expect(RolloutDecisions.rollbackTarget(for: 3, history: history)?.id == 1)
    }

    /// The revision a crashing one replaced may still be `watching` (its watch job waiting out a
    /// retry after a restart): it was healthy when replaced, so it is put back.
    @Test func anOlderRevisionStillWatchingIsGoodAndANewerOneIsNot() {
        let history = [record(1, .succeeded, live: 10), record(2, .watching, live: 20), record(3, .watching, live: 30)]
        #expect(RolloutDecisions.rollbackTarget(for: 3, history: history)?.id == 2)
        #expect(RolloutDecisions.rollbackTarget(for: 2, history: history)?.id == 1)
    }

    @Test func noTargetWithoutAGoodRevision() {
        let history = [record(1, .failed), record(2, .succeeded, live: nil), record(3, .succeeded, live: 5, image: nil),
                       record(4, .watching, live: 30)]
        #expect(RolloutDecisions.rollbackTarget(for: 4, history: history) == nil)
    }

    @Test(arguments: [
        (DeploymentTrigger.push, Int64(5), DeploymentTrigger.push, true),
        (.push, 5, .manual, true),
        (.push, 2, .push, false),        // the live one is older: go ahead
        (.push, 5, .rollback, false),    // a rollback is not "newer code"
        (.manual, 5, .push, false),      // explicit verbs always proceed
        (.rollback, 5, .push, false),
    ])
    func gate(trigger: DeploymentTrigger, liveID: Int64, liveTrigger: DeploymentTrigger, superseded: Bool) {
        let candidate = record(3, .rollingOut, trigger: trigger)
        let live = record(liveID, .watching, trigger: liveTrigger, live: 1)
        let gate = RolloutDecisions.gate(candidate, live: live)
        if superseded {
            guard case .supersede(let reason) = gate else { Issue.record("expected supersede, got \(gate)"); return }
            #expect(reason.contains("deployment \(liveID)"))
        } else {
            #expect(gate == .proceed)
        }
    }

    @Test func gateWithNothingLive() {
        #expect(RolloutDecisions.gate(record(1, .rollingOut), live: nil) == .proceed)
    }
}
