import Foundation
import SlipwayCore
import Testing

/// A push is deployed only when the fetched repository confirms it.
@Suite struct PushVerificationTests {
    static let a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40)
    static let c = String(repeating: "c", count: 40), zero = String(repeating: "0", count: 40)

    enum Expected: Equatable { case deploy, supersede, refuse }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var facts: PushVerification.Facts
        var expected: Expected
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "the branch points at the pushed commit", facts: .init(sha: b, branch: "main", head: b, live: a, shaIsAncestorOfLive: false,
                                                                          before: a, beforeIsAncestorOfSHA: true), expected: .deploy),
        Case(name: "first deployment of the service", facts: .init(sha: b, branch: "main", head: b), expected: .deploy),
        Case(name: "the branch is gone", facts: .init(sha: b, branch: "main", head: nil), expected: .refuse),
        Case(name: "the branch moved on to a descendant", facts: .init(sha: b, branch: "main", head: c, shaIsAncestorOfHead: true), expected: .supersede),
        Case(name: "a replayed old push: the branch is elsewhere", facts: .init(sha: a, branch: "main", head: c, shaIsAncestorOfHead: false),
             expected: .refuse),
        Case(name: "a commit the branch never had", facts: .init(sha: a, branch: "main", head: c, shaIsAncestorOfHead: nil), expected: .refuse),
        Case(name: "force-pushed back to an older commit", facts: .init(sha: a, branch: "main", head: a, live: b, shaIsAncestorOfLive: true,
                                                                        before: b, beforeIsAncestorOfSHA: false), expected: .deploy),
        Case(name: "force-pushed back, the old head gone from the mirror", facts: .init(sha: a, branch: "main", head: a, live: b,
                                                                                       shaIsAncestorOfLive: true, before: c, beforeIsAncestorOfSHA: nil),
             expected: .deploy),
        Case(name: "an older commit announced as a fast-forward", facts: .init(sha: a, branch: "main", head: a, live: b, shaIsAncestorOfLive: true,
                                                                               before: c, beforeIsAncestorOfSHA: true), expected: .refuse),
        Case(name: "an older commit announced as a new branch", facts: .init(sha: a, branch: "main", head: a, live: b, shaIsAncestorOfLive: true,
                                                                             before: zero), expected: .refuse),
        Case(name: "an older commit without a before", facts: .init(sha: a, branch: "main", head: a, live: b, shaIsAncestorOfLive: true),
             expected: .refuse),
        Case(name: "the live commit is not in the mirror", facts: .init(sha: a, branch: "main", head: a, live: b, shaIsAncestorOfLive: nil),
             expected: .deploy),
        Case(name: "the live commit itself", facts: .init(sha: a, branch: "main", head: a, live: a, shaIsAncestorOfLive: false), expected: .deploy),
        Case(name: "a commit an operator rolled back, announced again", facts: .init(sha: b, branch: "main", head: b, live: a,
                                                                                     shaIsAncestorOfLive: false, replacedByOperator: 7),
             expected: .refuse),
        Case(name: "an older commit announced from an all-zero old head of another length",
             facts: .init(sha: a, branch: "main", head: a, live: b, shaIsAncestorOfLive: true, before: String(repeating: "0", count: 64)),
             expected: .refuse),
    ]

    @Test(arguments: cases)
    func verdict(_ c: Case) {
        let verdict = PushVerification.decide(c.facts, service: "web")
        switch (verdict, c.expected) {
        case (.deploy, .deploy), (.supersede, .supersede), (.refuse, .refuse): break
        default: Issue.record("expected \(c.expected), got \(verdict)")
        }
    }

    @Test func reasonsSayWhatHappenedAndWhatToDo() {
        guard case .refuse(let replay) = PushVerification.decide(.init(sha: Self.a, branch: "main", head: Self.c), service: "web") else {
            Issue.record("not refused"); return
        }
        #expect(replay.contains("branch main is at cccccccccccc") && replay.contains("forged or replayed"))
        guard case .refuse(let older) = PushVerification.decide(.init(sha: Self.a, branch: "main", head: Self.a, live: Self.b,
                                                                       shaIsAncestorOfLive: true, before: Self.c, beforeIsAncestorOfSHA: true),
                                                                 service: "web") else { Issue.record("not refused"); return }
        #expect(older.contains("slipway rollback web") && older.contains("slipway deploy web --sha aaaaaaaaaaaa"))
    }
}

@Suite struct PushReplacementTests {
    static func record(_ id: Int64, _ sha: String, _ trigger: DeploymentTrigger, live: Bool = true) -> DeploymentRecord {
        DeploymentRecord(id: id, service: "web", trigger: trigger, state: .succeeded, sha: sha, createdAt: Date(timeIntervalSince1970: 0),
                         liveAt: live ? Date(timeIntervalSince1970: Double(id)) : nil)
    }
    static let a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40)

    @Test func aRollbackAwayFromACommitThatWentLivePinsTheService() {
        let history = [Self.record(1, Self.a, .push), Self.record(2, Self.b, .push), Self.record(3, Self.a, .rollback)]
        #expect(PushVerification.replacement(of: Self.b, pushing: 4, live: history[2], history: history) == 3)
        // A commit that never went live, the live commit itself, or a push that went live: no pin.
        let neverLive = [Self.record(1, Self.a, .push), Self.record(2, Self.b, .push, live: false), Self.record(3, Self.a, .rollback)]
        #expect(PushVerification.replacement(of: Self.b, pushing: 4, live: neverLive[2], history: neverLive) == nil)
        #expect(PushVerification.replacement(of: Self.a, pushing: 4, live: history[2], history: history) == nil)
        #expect(PushVerification.replacement(of: Self.b, pushing: 4, live: Self.record(3, Self.a, .push), history: history) == nil)
        #expect(PushVerification.replacement(of: Self.b, pushing: 2, live: history[2], history: [history[2]]) == nil)
    }
}
