import Foundation
import SlipwayCore
import Testing

@Suite struct ImageRetentionTests {
    static func sha(_ n: Int) -> String { String(repeating: String(n % 10), count: 40) }
    static func digest(_ n: Int) -> String { "sha256:" + String(repeating: String(n % 10), count: 64) }

    static func record(_ id: Int64, _ state: DeploymentState, n: Int, live: Double? = nil) -> DeploymentRecord {
        DeploymentRecord(id: id, service: "web", trigger: .push, state: state, sha: sha(n), image: "r.example.com/acme/web:\(sha(n))",
                         digest: state == .queued ? nil : digest(n), createdAt: Date(timeIntervalSince1970: Double(id)),
                         liveAt: live.map { Date(timeIntervalSince1970: $0) })
    }

    static let tags = (1...7).map { ImageRetention.Tagged(tag: sha($0), digest: digest($0)) }

    @Test func keepsTheLastNTheLiveOneAndTheRollbackTarget() {
        // 1..5 succeeded in turn, 6 crashed and was rolled back (5 is live again), 7 is building.
        let history = [
            Self.record(1, .succeeded, n: 1, live: 10), Self.record(2, .succeeded, n: 2, live: 20), Self.record(3, .succeeded, n: 3, live: 30),
            Self.record(4, .succeeded, n: 4, live: 40), Self.record(5, .succeeded, n: 5, live: 60), Self.record(6, .rolledBack, n: 6, live: 50),
            Self.record(7, .building, n: 7),
        ]
        let decision = ImageRetention.plan(tags: Self.tags, history: history, liveID: 5, keep: 1)
        #expect(decision.kept[Self.digest(5)] == "live (deployment 5)")
        #expect(decision.kept[Self.digest(4)] == "what a rollback would put back (deployment 4)")
        #expect(decision.kept[Self.digest(7)] == "deployment 7 is building")
        #expect(decision.delete == [Self.digest(1), Self.digest(2), Self.digest(3), Self.digest(6)])

        let three = ImageRetention.plan(tags: Self.tags, history: history, liveID: 5, keep: 3)
        #expect(three.delete == [Self.digest(1), Self.digest(2), Self.digest(6)])
        #expect(three.kept[Self.digest(3)]?.contains("last 3 successful") == true)
    }

    @Test func neverTouchesWhatSlipwayDidNotMake() {
        let tags = Self.tags + [.init(tag: "latest", digest: Self.digest(1)), .init(tag: "v1.2.0", digest: "sha256:other"),
                                .init(tag: "buildcache", digest: "sha256:cache")]
        let decision = ImageRetention.plan(tags: tags, history: [Self.record(2, .succeeded, n: 2, live: 20)], liveID: 2, keep: 1)
        #expect(decision.kept[Self.digest(1)] == "tag latest was not made by Slipway", "a SHA tag sharing a digest with `latest` stays")
        #expect(decision.kept["sha256:other"] != nil && decision.kept["sha256:cache"] != nil)
        #expect(decision.delete == [3, 4, 5, 6, 7].map(Self.digest))
    }

    @Test func previewsAndDigestDeploymentsAreKept() {
        var byDigest = Self.record(3, .succeeded, n: 3, live: 30)
        byDigest.image = "r.example.com/acme/web@\(Self.digest(3))"
        byDigest.digest = nil
        byDigest.sha = nil
        let decision = ImageRetention.plan(tags: Self.tags, history: [byDigest], liveID: 3, keep: 0, pinned: [Self.digest(6)])
        #expect(decision.kept[Self.digest(3)] == "live (deployment 3)")
        #expect(decision.kept[Self.digest(6)] == "an open preview")
        #expect(!decision.delete.contains(Self.digest(3)) && !decision.delete.contains(Self.digest(6)))
        #expect(ImageRetention.madeBySlipway(Self.sha(1)) && !ImageRetention.madeBySlipway("ABCDEF" + String(repeating: "0", count: 34)))
    }
}
