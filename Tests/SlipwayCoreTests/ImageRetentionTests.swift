import Foundation
import SlipwayCore
import Testing

@Suite struct ImageRetentionTests {
    static func sha(_ n: Int) -> String { String(repeating: String(n % 10), count: 40) }
    static func digest(_ n: Int) -> String { "sha256:" + String(repeating: String(n % 10), count: 64) }

    static func record(_ id: Int64, _ state: DeploymentState, n: Int, live: Double? = nil, service: String = "web") -> DeploymentRecord {
        DeploymentRecord(id: id, service: service, trigger: .push, state: state, sha: sha(n), image: "r.example.com/acme/web:\(sha(n))",
                         digest: state == .queued ? nil : digest(n), createdAt: Date(timeIntervalSince1970: Double(id)),
                         liveAt: live.map { Date(timeIntervalSince1970: $0) })
    }

    static let tags = (1...7).map { ImageRetention.Tagged(tag: sha($0), digest: digest($0)) }

    /// 1..4 succeeded in turn, 5 is live again after 6 crashed and was rolled back, 7 is building.
    static let history = [
        record(1, .succeeded, n: 1, live: 10), record(2, .succeeded, n: 2, live: 20), record(3, .succeeded, n: 3, live: 30),
        record(4, .succeeded, n: 4, live: 40), record(5, .succeeded, n: 5, live: 60), record(6, .rolledBack, n: 6, live: 50),
        record(7, .building, n: 7),
    ]

    @Test func keepsTheLastNTheLiveOneAndTheRollbackTarget() {
        let decision = ImageRetention.plan(tags: Self.tags, history: Self.history, live: ["web": 5], keep: 1)
        #expect(decision.kept[Self.digest(5)] == "web: live (deployment 5)")
        #expect(decision.kept[Self.digest(4)] == "web: what a rollback would put back (deployment 4)")
        #expect(decision.kept[Self.digest(7)] == "web: deployment 7 is building")
        #expect(decision.delete == [Self.digest(1), Self.digest(2), Self.digest(3), Self.digest(6)])

        let three = ImageRetention.plan(tags: Self.tags, history: Self.history, live: ["web": 5], keep: 3)
        #expect(three.delete == [Self.digest(1), Self.digest(2), Self.digest(6)])
        #expect(three.kept[Self.digest(3)]?.contains("last 3 successful") == true)
    }

    /// Previews are not the main line's history: three newer successful previews do not push
    /// main's rollback image out of `keep`; an open preview's live image stays (pinned), one
    /// in flight stays, and a closed preview's image may go.
    @Test func previewsNeitherCrowdOutTheMainLineNorLoseTheirLiveImage() {
        func preview(_ id: Int64, _ state: DeploymentState, n: Int, number: Int) -> DeploymentRecord {
            var record = Self.record(id, state, n: n, live: state == .succeeded ? Double(100 + id) : nil)
            record.environment = .pullRequest(number)
            return record
        }
        let history = [Self.record(1, .succeeded, n: 1, live: 10), Self.record(2, .succeeded, n: 2, live: 20),
                       preview(3, .succeeded, n: 3, number: 7), preview(4, .succeeded, n: 4, number: 8), preview(5, .succeeded, n: 5, number: 9),
                       preview(6, .building, n: 6, number: 10)]
        let decision = ImageRetention.plan(tags: Self.tags, history: history, live: ["web": 2], keep: 1, pinned: [Self.digest(4)])
        #expect(decision.kept[Self.digest(2)] == "web: live (deployment 2)")
        #expect(decision.kept[Self.digest(1)] == "web: what a rollback would put back (deployment 1)")
        #expect(decision.kept[Self.digest(4)] == "an open preview")
        #expect(decision.kept[Self.digest(6)] == "web (pr-10): deployment 6 is building")
        #expect(decision.delete == [Self.digest(3), Self.digest(5)])
    }

    @Test func neverTouchesWhatNoDeploymentReferred() {
        // `latest`, a release tag, a cache, and a SHA tag CI pushed: none is a Slipway deployment's.
        let ci = String(repeating: "c", count: 40)
        let tags = Self.tags + [.init(tag: "latest", digest: Self.digest(1)), .init(tag: "v1.2.0", digest: "sha256:other"),
                                .init(tag: "buildcache", digest: "sha256:cache"), .init(tag: ci, digest: "sha256:ci")]
        let decision = ImageRetention.plan(tags: tags, history: [Self.record(2, .succeeded, n: 2, live: 20), Self.record(1, .succeeded, n: 1, live: 10)],
                                           live: ["web": 2], keep: 0)
        #expect(decision.kept["sha256:other"] != nil && decision.kept["sha256:cache"] != nil && decision.kept["sha256:ci"] != nil)
        #expect(decision.kept[Self.digest(3)]?.hasPrefix("no Slipway deployment refers to it") == true)
        #expect(decision.delete.isEmpty, "1 is the rollback target of 2; 3…7 were never deployed here")
    }

    /// Deleting a manifest deletes every tag on it: a release tag someone put on a commit Slipway
    /// built keeps that image, whatever the retention count.
    @Test func aManifestAlsoTaggedByHandIsKept() {
        let tags = Self.tags + [.init(tag: "v1.4.0", digest: Self.digest(2))]
        let decision = ImageRetention.plan(tags: tags, history: Self.history, live: ["web": 5], keep: 0)
        #expect(decision.kept[Self.digest(2)] == "also tagged v1.4.0, which Slipway did not make")
        #expect(!decision.delete.contains(Self.digest(2)))
        #expect(decision.delete == [Self.digest(1), Self.digest(3), Self.digest(6)])
    }

    /// Two services in one repository (staging and prod): each one's live image and rollback target stay.
    @Test func servicesSharingARepositoryKeepEachOthersImages() {
        let staging = [Self.record(10, .succeeded, n: 1, live: 10, service: "staging"), Self.record(11, .succeeded, n: 2, live: 11, service: "staging"),
                       Self.record(12, .succeeded, n: 3, live: 12, service: "staging")]
        let prod = [Self.record(20, .succeeded, n: 1, live: 5, service: "prod")]
        let decision = ImageRetention.plan(tags: Self.tags, history: staging + prod, live: ["staging": 12, "prod": 20], keep: 0)
        #expect(decision.kept[Self.digest(1)] == "prod: live (deployment 20)")
        #expect(decision.kept[Self.digest(2)] == "staging: what a rollback would put back (deployment 11)")
        #expect(decision.delete.isEmpty)
    }

    @Test func digestDeploymentsAndPinnedDigestsAreKept() {
        var byDigest = Self.record(3, .succeeded, n: 3, live: 30)
        byDigest.image = "r.example.com/acme/web@\(Self.digest(3))"
        byDigest.digest = nil
        let old = Self.record(2, .failed, n: 6)
        let decision = ImageRetention.plan(tags: Self.tags, history: [byDigest, old], live: ["web": 3], keep: 0, pinned: [Self.digest(6)])
        #expect(decision.kept[Self.digest(3)] == "web: live (deployment 3)")
        #expect(decision.kept[Self.digest(6)] == "an open preview")
        #expect(decision.delete.isEmpty)
    }
}
