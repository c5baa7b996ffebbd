import Foundation
import Logging
@testable import SlipwayApp
import SlipwayController
import SlipwayCore
import SlipwayFakes
import SlipwayStore
import Testing

/// What the reconcile loop does with each kind of planned action, on the fake runtime and
/// the real store (until now seen only end to end).
@Suite(.enabled(if: TestStack.enabled))
struct ReconcileCarryOutTests {
    func loop(_ rig: JobHandlerTests.Rig) -> ReconcileLoop {
        ReconcileLoop(planner: Planner(store: rig.store, runtime: rig.runtime, logger: TestStack.logger), store: rig.store,
                      runtime: rig.runtime, lease: LeaderLease(pool: rig.store.pool, name: "reconciler", logger: TestStack.logger),
                      interval: .seconds(30), logger: TestStack.logger)
    }

    func newest(_ rig: JobHandlerTests.Rig) async throws -> (DeploymentRecord, [String], [String]) {
        let record = try #require(try await rig.store.history(service: "web", limit: 1).first).record
        let events = try await rig.store.events(record.id, kind: "reconcile").map(\.message)
        return (record, try await rig.jobs(record.id), events)
    }

    @Test func aBuildActionQueuesABuildOfTheCommitSayingWhy() async throws {
        try await JobHandlerTests.withRig { rig in
            let sha = rig.git.commit(["Dockerfile": "FROM scratch"])
            try await loop(rig).carryOut(PlanAction(.build, reason: "the newest commit is not live", sha: sha), service: "web")
            let (record, jobs, events) = try await newest(rig)
            #expect(record.trigger == .reconcile && record.sha == sha && record.image == nil)
            #expect(jobs == ["build:queued"])
            #expect(events == ["build: the newest commit is not live"])
        }
    }

    @Test func selfHealRollsTheLiveRevisionOutAgainExactly() async throws {
        try await JobHandlerTests.withRig { rig in
            let live = try await rig.deployLive()
            try await rig.store.setRuntimeRef(live, ref: "arn:aws:ecs:task-definition/web:7")
            let record = try await rig.state(live)
            try await loop(rig).carryOut(PlanAction(.selfHeal, reason: "the container was removed by hand", sha: record.sha,
                                                    image: record.image, deploymentID: live), service: "web")
            let (healed, jobs, events) = try await newest(rig)
            #expect(healed.id != live && healed.trigger == .reconcile)
            #expect(healed.image == record.image && healed.runtimeRef == "arn:aws:ecs:task-definition/web:7")
            #expect(jobs == ["rollout:queued"])
            #expect(events == ["self-heal: the container was removed by hand"])
        }
    }

    @Test func pruneRemovesTheListedRevisionsAndNothingElse() async throws {
        try await JobHandlerTests.withRig { rig in
            let first = try await rig.deployLive()
            let second = try await rig.deployLive()
            #expect(rig.runtime.running == [first, second])
            try await loop(rig).carryOut(PlanAction(.prune, reason: "not live and not being deployed", deploymentID: first,
                                                    deployments: [first]), service: "web")
            #expect(rig.runtime.running == [second])
            #expect(rig.runtime.calls.last == .remove(first))
        }
    }

    @Test func waitAndNothingDoNothing() async throws {
        try await JobHandlerTests.withRig { rig in
            let live = try await rig.deployLive()
            let before = rig.runtime.calls
            for action in [PlanAction(.wait, reason: "a build is running"), PlanAction(.nothing, reason: "in sync")] {
                try await loop(rig).carryOut(action, service: "web")
            }
            #expect(rig.runtime.calls == before)
            #expect(try await rig.store.history(service: "web").map(\.id) == [live])
        }
    }
}
