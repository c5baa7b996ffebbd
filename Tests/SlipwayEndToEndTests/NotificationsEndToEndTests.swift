import Foundation
import SlipwayTestSupport
import Testing

/// Notifications as a team gets them: a push goes live, Slipway restarts, a crashing push is
/// rolled back. A Slack-shaped receiver gets the rollback as a valid Block Kit message; the
/// generic receiver checks every signature and, across the restart and a 503 it answered
/// once, takes each delivery exactly once.
@Suite(.enabled(if: EndToEnd.enabled), .serialized)
struct NotificationsEndToEndTests {
    @Test func slackHearsTheRollbackAndTheWebhookTakesEachDeliveryOnce() async throws {
        let key = "hook-key-\(UUID().uuidString.prefix(8))"
        let receiver = try NotifyReceiver(secret: key, failFirst: 1)
        defer { receiver.stop() }
        let slack = "\(receiver.url)/slack/T000/B000/\(UUID().uuidString.prefix(12))"
        var e2e = try await EndToEnd.start(
            rollbackWindow: "30s",
            settings: ["SLIPWAY_SECRET_E2E_SLACK": slack, "SLIPWAY_SECRET_E2E_HOOK": key, "SLIPWAY_PUBLIC_URL": "https://slipway.example.com"],
            policyTail: """
                notify:
                  - slack: env:SLIPWAY_SECRET_E2E_SLACK
                    events: [rolled_back]
                  - webhook: \(receiver.url)/hook
                    secret: env:SLIPWAY_SECRET_E2E_HOOK
                    events: [live, failed, rolled_back]
                """)
        defer { e2e.stop() }
        func hooks() throws -> [[String: Any]] { try receiver.requests().filter { ($0["path"] as? String) == "/hook" } }
        func event(_ r: [String: Any]) -> String? { (r["body"] as? [String: Any])?["event"] as? String }

        let base = try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE")
        let good = try e2e.repo.commit([
            "Dockerfile": "FROM \(base)\nCOPY serve.sh /serve.sh\nCMD [\"sh\", \"/serve.sh\"]\n",
            "serve.sh": "while true; do sleep 1; done\n",
        ], message: "a service that stays up")
        try await e2e.push(good, delivery: "notify-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == good }
        // The receiver's first answer is a 503: the same delivery comes again and is taken.
        try await e2e.waitFor("the live notification taken", timeout: .seconds(60)) {
            try hooks().contains { ($0["status"] as? Int) == 200 && event($0) == "live" }
        }

        // A restart between two pushes: nothing already taken is sent again.
        e2e.stop()
        e2e = try await e2e.relaunch(settings: [:])
        let bad = try e2e.repo.commit(["serve.sh": "echo 'fatal: no database' >&2\nsleep 1\nexit 3\n"], message: "a service that crashes <b>&</b>")
        try await e2e.push(bad, delivery: "notify-2", before: good)
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.deployments.first { $0.sha == bad }?.state == "rolled_back" }

        // Slack: one message, the rollback's, as Block Kit Slack accepts, with the exit code and the commit.
        try await e2e.waitFor("Slack's rollback message", timeout: .seconds(60)) {
            try receiver.requests().contains { ($0["path"] as? String)?.hasPrefix("/slack/") == true }
        }
        let messages = try receiver.requests().filter { ($0["path"] as? String)?.hasPrefix("/slack/") == true }
        #expect(messages.count == 1)
        let message = try #require(messages.first)
        #expect((message["problems"] as? [String])?.isEmpty == true, "\(message)")
        #expect(message["status"] as? Int == 200)
        let text = String(decoding: try JSONSerialization.data(withJSONObject: message["body"] ?? [:]), as: UTF8.self)
        for needle in ["rolled back", e2e.service, String(bad.prefix(12)), "exited with code 3", "*Author*\\nTest",
                       "a service that crashes &lt;b&gt;&amp;&lt;\\/b&gt;", "https:\\/\\/slipway.example.com\\/deployments\\/"] {
            #expect(text.contains(needle), "\(needle) not in \(text)")
        }

        // The webhook: every body signed, each delivery taken once, the rollback among them.
        try await e2e.waitFor("the rolled_back notification taken", timeout: .seconds(60)) {
            try hooks().contains { ($0["status"] as? Int) == 200 && event($0) == "rolled_back" }
        }
        try await e2e.waitFor("every notification job done", timeout: .seconds(60)) {
            try e2e.count("SELECT count(*) FROM jobs WHERE kind = 'notification' AND state IN ('queued', 'running')") == 0
        }
        let all = try hooks()
        #expect(all.allSatisfy { ($0["signature_valid"] as? Bool) == true && ($0["problems"] as? [String])?.isEmpty == true }, "\(all)")
        let taken = all.filter { ($0["status"] as? Int) == 200 }.compactMap { ($0["headers"] as? [String: String])?["x-slipway-delivery"] }
        #expect(Set(taken).count == taken.count, "a delivery was taken twice: \(taken)")
        let refused = all.filter { ($0["status"] as? Int) == 503 }.compactMap { ($0["headers"] as? [String: String])?["x-slipway-delivery"] }
        #expect(refused.count == 1 && taken.contains(refused[0]), "the 503'd delivery was not sent again with its id")
        #expect(all.filter { ($0["status"] as? Int) == 200 && event($0) == "rolled_back" }.count == 1)
        #expect(try e2e.count("SELECT count(*) FROM notification_deliveries WHERE state <> 'sent'") == 0)
        print("notifications e2e: \(all.count) webhook requests, \(taken.count) deliveries taken (\(Set(all.compactMap(event)).sorted()))")
    }
}
