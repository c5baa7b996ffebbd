import Foundation
import SlipwayCore
import Testing

/// Every branch of the rollout and the rollback, as rows: what the job saw, what it must do.
@Suite struct RolloutMachineTests {
    static func record(_ id: Int64, _ state: DeploymentState, trigger: DeploymentTrigger = .push, live: Double? = nil,
                       image: String? = "img", sha: String? = nil) -> DeploymentRecord {
        DeploymentRecord(id: id, service: "web", trigger: trigger, state: state, sha: sha ?? String(repeating: "\(id)", count: 40),
                         image: image, createdAt: Date(timeIntervalSince1970: Double(id)), liveAt: live.map { Date(timeIntervalSince1970: $0) },
                         policy: nil)
    }

    static let watch = CrashWatch(window: .seconds(30), threshold: 1)
    static let now = Date(timeIntervalSince1970: 1_000)

    // MARK: rollout

    struct Begin: Sendable, CustomTestStringConvertible {
        var name: String
        var deployment: DeploymentRecord
        var live: DeploymentRecord?
        var expected: RolloutMachine.Action
        var testDescription: String { name }
    }

    @Test(arguments: [
        Begin(name: "a queued deployment starts", deployment: record(5, .queued), live: record(4, .succeeded, live: 40), expected: .start),
        Begin(name: "first rollout of a service", deployment: record(1, .rollingOut), live: nil, expected: .start),
        Begin(name: "cancelled meanwhile: nothing", deployment: record(5, .cancelled), live: nil, expected: .none),
        Begin(name: "run again after it went live: the live revision is not touched", deployment: record(5, .watching),
              live: record(5, .watching, live: 50), expected: .none),
        Begin(name: "run again after a crash mid-start: started again", deployment: record(5, .rollingOut), live: nil,
              expected: .start),
        Begin(name: "a newer push is live: superseded", deployment: record(5, .rollingOut), live: record(6, .watching, live: 60),
              expected: .end(.superseded, reason: "deployment 6 of a newer commit (666666666666) is already live")),
        Begin(name: "a rollback proceeds past a newer live push", deployment: record(5, .queued, trigger: .rollback),
              live: record(6, .watching, live: 60), expected: .start),
        Begin(name: "no image: failed", deployment: record(5, .queued, image: nil), live: nil,
              expected: .end(.failed, reason: "nothing to roll out: the deployment has no image")),
    ])
    func begin(_ row: Begin) {
        var machine = RolloutMachine(deployment: row.deployment, live: row.live, watch: Self.watch)
        #expect(machine.begin() == row.expected)
        #expect(machine.begin() == .none, "begin is one step: asked twice, it does nothing")
    }

    struct AfterStart: Sendable, CustomTestStringConvertible {
        var name: String
        var exits: [CrashWatch.Exit]?
        var failure: String?
        var expected: RolloutMachine.Action
        var testDescription: String { name }
    }

    static let crash = CrashWatch.Exit(instance: "c1", exitCode: 3, finishedAt: now)

    @Test(arguments: [
        AfterStart(name: "all running: live, watched, the old one retired after", exits: [], expected: .goLive),
        AfterStart(name: "a clean exit at start is not a crash", exits: [CrashWatch.Exit(instance: "c1", exitCode: 0, finishedAt: now)],
                   expected: .goLive),
        AfterStart(name: "crashed at start: rolled back, the previous revision untouched", exits: [crash],
                   expected: .rollBackAtStart(cause: crash, crashes: 1, suffix: "The previous revision kept running.")),
        AfterStart(name: "the runtime could not start it", failure: "image x is not available",
                   expected: .end(.failed, reason: "image x is not available; the running revision was not touched")),
    ])
    func afterStart(_ row: AfterStart) {
        var machine = RolloutMachine(deployment: Self.record(5, .queued), live: nil, watch: Self.watch)
        #expect(machine.begin() == .start)
        let action = row.failure.map { machine.startFailed($0) } ?? machine.started(exits: row.exits ?? [], now: Self.now)
        #expect(action == row.expected)
        #expect(machine.state == .ended)
        #expect(machine.started(exits: [], now: Self.now) == .none, "nothing after the end")
    }

    @Test func nothingHappensBeforeBegin() {
        var machine = RolloutMachine(deployment: Self.record(5, .queued), live: nil, watch: Self.watch)
        #expect(machine.started(exits: [], now: Self.now) == .none)
        #expect(machine.startFailed("x") == .none)
    }

    // MARK: rollback

    struct Rollback: Sendable, CustomTestStringConvertible {
        var name: String
        var history: [DeploymentRecord]
        /// nil: the target started; a message: it failed too.
        var targetFailure: String?
        var expected: [RollbackMachine.Action]
        var testDescription: String { name }
    }

    static let good = record(2, .succeeded, live: 20, sha: String(repeating: "a", count: 40))
    static let failing = record(3, .watching, live: 30)

    @Test(arguments: [
        Rollback(name: "the earlier revision starts: rolled back to it", history: [failing, good], expected: [
            .startTarget(good),
            .restored(target: good, reason: "crashed\nRolled back to deployment 2 (aaaaaaaaaaaa)."),
        ]),
        Rollback(name: "no earlier good revision: the service is stopped", history: [failing, record(1, .failed)], expected: [
            .stopService(reason: "crashed\nNo earlier good deployment to roll back to; the service is stopped."),
        ]),
        Rollback(name: "the first deployment of a service crashes", history: [failing], expected: [
            .stopService(reason: "crashed\nNo earlier good deployment to roll back to; the service is stopped."),
        ]),
        Rollback(name: "the earlier revision fails to start too: the failing one stays", history: [failing, good],
                 targetFailure: "image gone", expected: [
            .startTarget(good),
            .giveUp(reason: "crashed\nRolling back to deployment 2 failed too: image gone"),
        ]),
    ])
    func rollback(_ row: Rollback) {
        var machine = RollbackMachine(failing: Self.failing, history: row.history, reason: "crashed")
        var actions = [machine.begin()]
        if case .startTarget = actions[0] {
            actions.append(row.targetFailure.map { machine.targetFailed($0) } ?? machine.targetStarted())
        }
        #expect(actions == row.expected)
        #expect(machine.targetStarted() == .none && machine.begin() == .none, "the machine ended")
    }

    // MARK: crash report

    @Test func crashReportNamesTheInstanceTheCodeAndTheLastLines() {
        let text = CrashReport.reason(cause: Self.crash, crashes: 2, watch: CrashWatch(window: .seconds(30), threshold: 2),
                                      instanceName: "slipway-web-3-1", detail: "exited, killed for using too much memory (OOM)",
                                      lastLines: ["fatal: no db"])
        #expect(text == """
            slipway-web-3-1 exited with code 3 (killed for using too much memory); 2 crashes within 30s of going live (rollback.crashes: 2).
            Last log lines:
            fatal: no db
            """)
    }
}

/// The deployment state table: what may follow what, and nothing else.
@Suite struct DeploymentTransitionsTests {
    typealias S = DeploymentState

    @Test(arguments: [
        (S.queued, S.building, true), (.building, .pushing, true), (.pushing, .building, true),
        (.pushing, .rollingOut, true), (.queued, .rollingOut, true), (.rollingOut, .watching, true),
        (.watching, .succeeded, true), (.watching, .rolledBack, true), (.rollingOut, .rolledBack, true),
        (.building, .failed, true), (.watching, .cancelled, true), (.queued, .superseded, true),
        // Impossible ones:
        (.queued, .watching, false), (.building, .watching, false), (.rollingOut, .succeeded, false),
        (.building, .rolledBack, false), (.watching, .building, false), (.watching, .rollingOut, false),
        (.succeeded, .rolledBack, false), (.failed, .building, false), (.rolledBack, .succeeded, false),
        (.cancelled, .queued, false), (.superseded, .rollingOut, false), (.queued, .queued, false),
    ])
    func table(_ from: S, _ to: S, _ allowed: Bool) {
        #expect(DeploymentTransitions.allows(from: from, to: to) == allowed)
    }

    @Test(arguments: DeploymentState.allCases)
    func aFinalStateIsNeverLeft(_ state: DeploymentState) {
        guard state.isFinal else { return }
        for to in DeploymentState.allCases { #expect(!DeploymentTransitions.allows(from: state, to: to)) }
    }
}
