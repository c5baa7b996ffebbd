import Foundation
import SlipwayCore
import Testing

/// What notifications say, byte for byte: the generic webhook's JSON and Slack's Block Kit
/// message, with hostile text (markup, quotes, control characters, backticks) in the commit
/// and the reason; and which channels hear which event.
@Suite struct NotificationTests {
    static let at = Date(timeIntervalSince1970: 1_796_000_000)

    static let rollback = NotificationFacts(
        event: .rolledBack, service: "web", environment: "main", deploymentID: 42, state: "rolled_back",
        sha: "0123456789abcdef0123456789abcdef01234567", branch: "main", author: "Ada <Lovelace> & Co",
        subject: "Fix \"quotes\" <script>alert(1)</script>", reason: "crashed: exit code 3\n```\nsecond line", by: nil,
        deploymentURL: "https://slipway.example.com/deployments/42",
        commitURL: "https://github.com/acme/web/commit/0123456789abcdef0123456789abcdef01234567", at: at)

    @Test func theWebhookBodyHasEveryKeyInOrderAndNullsForWhatIsUnknown() throws {
        let body = String(decoding: try NotificationPayloads.webhook(Self.rollback, delivery: "d-1"), as: UTF8.self)
        #expect(body == #"{"delivery":"d-1","event":"rolled_back","service":"web","environment":"main","at":"2026-11-30T00:53:20.000Z","headline":"web rolled back","reason":"crashed: exit code 3\n```\nsecond line","deployment":{"id":42,"state":"rolled_back","by":null,"url":"https://slipway.example.com/deployments/42"},"commit":{"sha":"0123456789abcdef0123456789abcdef01234567","branch":"main","author":"Ada <Lovelace> & Co","subject":"Fix \"quotes\" <script>alert(1)</script>","url":"https://github.com/acme/web/commit/0123456789abcdef0123456789abcdef01234567"},"preview":null}"#)
        // And it is JSON a receiver parses back to the same text.
        let parsed = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        #expect((parsed?["commit"] as? [String: Any])?["subject"] as? String == Self.rollback.subject)
    }

    @Test func aTeardownHasNoDeploymentOrCommit() throws {
        let facts = NotificationFacts(event: .previewTornDown, service: "web", environment: "pr-7", reason: "the pull request was closed",
                                      pullRequest: 7, previewURL: "https://web-pr-7.example.com", at: Self.at)
        let body = String(decoding: try NotificationPayloads.webhook(facts, delivery: "d-2"), as: UTF8.self)
        #expect(body == #"{"delivery":"d-2","event":"preview_torn_down","service":"web","environment":"pr-7","at":"2026-11-30T00:53:20.000Z","headline":"web (pull request #7) preview torn down","reason":"the pull request was closed","deployment":null,"commit":null,"preview":{"number":7,"url":"https://web-pr-7.example.com"}}"#)
    }

    @Test func slackGetsBlockKitWithItsMarkupEscaped() throws {
        let text = String(decoding: try NotificationPayloads.slack(Self.rollback), as: UTF8.self)
        #expect(text == #"{"text":"⏪ web rolled back (0123456789ab by Ada &lt;Lovelace&gt; &amp; Co): crashed: exit code 3","blocks":[{"type":"header","text":{"type":"plain_text","text":"⏪ web rolled back"}},{"type":"section","fields":[{"type":"mrkdwn","text":"*Service*\nweb"},{"type":"mrkdwn","text":"*Environment*\nmain"},{"type":"mrkdwn","text":"*Commit*\n<https://github.com/acme/web/commit/0123456789abcdef0123456789abcdef01234567|0123456789ab> on `main`"},{"type":"mrkdwn","text":"*Author*\nAda &lt;Lovelace&gt; &amp; Co"},{"type":"mrkdwn","text":"*State*\nrolled back"}]},{"type":"section","text":{"type":"mrkdwn","text":"> Fix \"quotes\" &lt;script&gt;alert(1)&lt;/script&gt;"}},{"type":"section","text":{"type":"mrkdwn","text":"*Reason*\n```crashed: exit code 3\n`\#u{200B}``\nsecond line```"}},{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Deployment"},"url":"https://slipway.example.com/deployments/42"},{"type":"button","text":{"type":"plain_text","text":"Commit"},"url":"https://github.com/acme/web/commit/0123456789abcdef0123456789abcdef01234567"}]}]}"#)
    }

    @Test func slackTextIsCutToBlockKitsLimitsAndOddURLsAreNotLinked() throws {
        var facts = Self.rollback
        facts.service = String(repeating: "s", count: 40)
        facts.reason = String(repeating: "x", count: 10_000)
        facts.commitURL = "https://example.com/a|b"
        facts.deploymentURL = "javascript:alert(1)"
        let message = try JSONSerialization.jsonObject(with: Data(try NotificationPayloads.slack(facts))) as? [String: Any]
        let blocks = message?["blocks"] as? [[String: Any]] ?? []
        for block in blocks {
            if let text = (block["text"] as? [String: Any])?["text"] as? String {
                #expect(text.count <= (block["type"] as? String == "header" ? 150 : 3_000))
            }
        }
        #expect(!blocks.contains { $0["type"] as? String == "actions" })   // neither URL is a button
        // Escaping grows `<` fivefold: the cut comes after it, never inside an entity, and the fence closes.
        facts.reason = String(repeating: "<", count: 5_000)
        let escaped = try JSONSerialization.jsonObject(with: Data(try NotificationPayloads.slack(facts))) as? [String: Any]
        let reason = ((escaped?["blocks"] as? [[String: Any]])?.compactMap { ($0["text"] as? [String: Any])?["text"] as? String }
            .first { $0.hasPrefix("*Reason*") }) ?? ""
        #expect(reason.count <= 3_000 && reason.hasSuffix("&lt;…```"), "\(reason.suffix(20))")
        let fields = (blocks.first { $0["fields"] != nil }?["fields"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
        #expect(fields.contains("*Commit*\n`0123456789ab` on `main`"))
    }

    @Test(arguments: [
        (NotifyEvent.live, "✅ web is live"), (.failed, "❌ web failed to deploy"), (.previewReady, "🔍 web preview is ready"),
    ])
    func headlines(_ event: NotifyEvent, _ header: String) throws {
        var facts = Self.rollback
        facts.event = event
        let message = try JSONSerialization.jsonObject(with: Data(try NotificationPayloads.slack(facts))) as? [String: Any]
        let first = (message?["blocks"] as? [[String: Any]])?.first?["text"] as? [String: Any]
        #expect(first?["text"] as? String == header)
    }

    @Test func aPolicysChannelsReplaceTheDefaultAndAnEmptyListSilences() {
        let slack = NotifyChannel(kind: .slack, url: .reference(.environment("SLIPWAY_SECRET_SLACK")))
        let hook = NotifyChannel(kind: .webhook, url: .literal("https://h.example.com"), secret: .environment("SLIPWAY_SECRET_H"),
                                 events: [.live, .rolledBack])
        #expect(NotificationRules.channels(policy: nil, fallback: [slack, hook], event: .rolledBack).map(\.index) == [0, 1])
        #expect(NotificationRules.channels(policy: nil, fallback: [slack, hook], event: .live).map(\.index) == [1])
        #expect(NotificationRules.channels(policy: nil, fallback: [slack, hook], event: .previewReady).isEmpty)
        #expect(NotificationRules.channels(policy: [hook], fallback: [slack], event: .failed).isEmpty)
        #expect(NotificationRules.channels(policy: [], fallback: [slack], event: .failed).isEmpty)
    }

    @Test(arguments: [(200, NotificationAnswer.delivered), (204, .delivered), (400, .refused), (401, .refused), (404, .refused),
                      (408, .retry), (429, .retry), (500, .retry), (503, .retry), (302, .refused)])
    func answers(_ status: Int, _ meaning: NotificationAnswer) {
        #expect(NotificationAnswer.classify(status: status) == meaning)
    }

    @Test(arguments: [
        (NotificationAnswer.delivered, false, false, DeliveryOutcome.sent, "sent"),
        (.delivered, true, true, .sent, "sent"),                 // delivered before the stop: recorded
        (.refused, false, false, .refused, "refused"),
        (.retry, false, false, .retried, "pending"),
        (.retry, true, false, .gaveUp, "gave_up"),               // the last attempt
        (.retry, true, true, .stopped, "pending"),               // a shutdown never gives up for the delivery
        (.retry, false, true, .stopped, "pending"),
    ])
    func deliveryOutcomes(_ answer: NotificationAnswer, _ last: Bool, _ stopped: Bool, _ outcome: DeliveryOutcome, _ state: String) {
        let got = DeliveryOutcome.of(answer, lastAttempt: last, stopped: stopped)
        #expect(got == outcome && got.state == state && got.isFinal == (state != "pending"))
    }

    @Test(arguments: [
        ("https://github.com/acme/web.git", "https://github.com/acme/web/commit/abc"),
        ("git@gitlab.com:group/sub/app.git", "https://gitlab.com/group/sub/app/-/commit/abc"),
        ("https://bitbucket.org/team/app", "https://bitbucket.org/team/app/commits/abc"),
        ("https://git.internal/x/y.git", nil),
        ("file:///tmp/repo.git", nil),
    ] as [(String, String?)])
    func commitPages(_ repo: String, _ page: String?) {
        #expect(NotificationFacts.commitURL(repo: repo, sha: "abc") == page)
    }

    @Test func aChannelRoundTripsThroughThePolicysJSON() throws {
        let channel = NotifyChannel(kind: .webhook, url: .reference(.file("/run/secrets/slipway/hook-url")),
                                    secret: .environment("SLIPWAY_SECRET_HOOK"), events: [.previewReady])
        let data = try JSONEncoder().encode(channel)
        #expect(try JSONDecoder().decode(NotifyChannel.self, from: data) == channel)
        #expect(String(decoding: data, as: UTF8.self).contains(#""url":"file:\/run\/secrets\/slipway\/hook-url""#))
    }
}
