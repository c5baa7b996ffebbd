import Crypto
import Foundation
import Logging
import PostgresNIO
@testable import SlipwayController
import SlipwayCore
import SlipwaySourceHosts
@testable import SlipwayStore
import SlipwaySystem
import Synchronization
import Testing

/// Notifications on real Postgres with a scripted transport: the database queues them with
/// the change they tell of; each channel gets one delivery whose id stays the same across
/// retries; a sent delivery is never sent again; refusals and exhausted retries end a
/// delivery without holding the others; services without channels queue nothing.
@Suite(.enabled(if: TestStack.enabled))
struct NotificationDeliveryTests {
    static let sha = "3f2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
    static let slackURL = "https://hooks.slack.test/services/T0/B0/abc"
    static let hookURL = "https://hooks.example.test/slipway"
    static let hookKey = "notify-key"

    /// Answers each call with the next scripted status for its URL (200 when none is left), and keeps the calls.
    final class Receiver: APITransport, Sendable {
        let script: Mutex<[String: [Int]]>
        let calls = Mutex<[APICall]>([])
        init(_ script: [String: [Int]] = [:]) { self.script = Mutex(script) }
        func send(_ call: APICall) async throws -> APIAnswer {
            calls.withLock { $0.append(call) }
            let status = script.withLock { $0[call.url]?.isEmpty == false ? $0[call.url]!.removeFirst() : 200 }
            return APIAnswer(status: status, body: status == 200 ? "ok" : "no_service")
        }
        func calls(to url: String) -> [APICall] { calls.withLock { $0.filter { $0.url == url } } }
    }

    static func channels(events: [NotifyEvent] = [.live, .rolledBack]) -> [NotifyChannel] {
        [NotifyChannel(kind: .slack, url: .reference(.environment("SLIPWAY_SECRET_SLACK")), events: events),
         NotifyChannel(kind: .webhook, url: .literal(hookURL), secret: .environment("SLIPWAY_SECRET_HOOK"), events: events)]
    }

    static func handler(_ store: Store, _ receiver: Receiver, fallback: [NotifyChannel] = []) -> NotificationHandler {
        let secrets = SecretReader(rules: .standard(dataDirectory: nil),
                                   environment: ["SLIPWAY_SECRET_SLACK": slackURL, "SLIPWAY_SECRET_HOOK": hookKey])
        return NotificationHandler(store: store, secrets: secrets, transport: receiver, fallback: fallback,
                                   publicURL: "https://slipway.example.com")
    }

    static func service(_ store: Store, notify: [NotifyChannel]?) async throws {
        let policy = Policy(service: "web", source: .init(repo: "https://github.com/acme/web.git"), image: "r.example.com/acme/web",
                            notify: notify)
        try await store.syncServices([(policy, "web.yaml")])
    }

    /// The notification jobs queued so far, oldest first, as the worker would claim them (attempt `attempt`).
    static func jobs(_ store: Store, attempt: Int = 1) async throws -> [ClaimedJob] {
        try await store.client.query("SELECT id, payload::text, max_attempts FROM jobs WHERE kind = 'notification' ORDER BY id").collect().map { row in
            let (id, payload, max) = try row.decode((Int64, String, Int).self)
            return ClaimedJob(id: id, kind: .notification, deploymentID: nil, service: nil, attempts: attempt, maxAttempts: max,
                              timeout: .minutes(2), leaseToken: UUID(), payloadJSON: payload)
        }
    }

    static func goLive(_ store: Store) async throws -> Int64 {
        let id = try await store.createDeployment(service: "web", trigger: .manual, sha: sha, image: nil, firstJob: .build)
        for state in [DeploymentState.building, .rollingOut, .watching] { #expect(try await store.transition(id, to: state)) }
        return id
    }

    @Test func eachChannelHearsOnceWithOneDeliveryIdAcrossRetries() async throws {
        try await TestStack.withStore { store, _ in
            try await Self.service(store, notify: Self.channels())
            let receiver = Receiver([Self.hookURL: [503]])
            let handler = Self.handler(store, receiver)
            let id = try await Self.goLive(store)
            let jobs = try await Self.jobs(store)
            #expect(jobs.count == 1)   // building and rolling out tell nothing; live does

            // Attempt 1: Slack takes it, the webhook answers 503 → the job is retried.
            await #expect(throws: RetryLater.self) { try await handler.run(jobs[0], logger: TestStack.logger) }
            #expect(receiver.calls(to: Self.slackURL).count == 1)
            // Attempt 2: only the webhook is sent again, with the same delivery id and a valid signature.
            try await handler.run(jobs[0], logger: TestStack.logger)
            // A third run (a duplicate claim) sends nothing.
            try await handler.run(jobs[0], logger: TestStack.logger)
            #expect(receiver.calls(to: Self.slackURL).count == 1)
            let hooks = receiver.calls(to: Self.hookURL)
            #expect(hooks.count == 2)
            let ids = hooks.map { call in call.headers.first { $0.0 == "X-Slipway-Delivery" }?.1 }
            #expect(ids[0] != nil && ids[0] == ids[1])
            for call in hooks {
                let body = [UInt8](call.body ?? Data())
                let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(Self.hookKey.utf8)))
                #expect(call.headers.first { $0.0 == "X-Slipway-Signature" }?.1 == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
                let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
                #expect(json?["delivery"] as? String == ids[0] && json?["event"] as? String == "live")
                #expect((json?["deployment"] as? [String: Any])?["url"] as? String == "https://slipway.example.com/deployments/\(id)")
            }
            let states = try await store.client.query("SELECT state, attempts FROM notification_deliveries ORDER BY channel")
                .collect().map { try $0.decode((String, Int).self) }
            #expect(states.map(\.0) == ["sent", "sent"] && states.map(\.1) == [1, 2])

            // Rolled back: told again, as a new delivery; a failure is not among these channels' events.
            _ = try await store.transition(id, to: .rolledBack, reason: "crashed: exit code 3")
            for job in try await Self.jobs(store).dropFirst() { try await handler.run(job, logger: TestStack.logger) }
            let slack = receiver.calls(to: Self.slackURL)
            #expect(slack.count == 2)
            let message = String(decoding: slack[1].body ?? Data(), as: UTF8.self)
            #expect(message.contains("web rolled back") && message.contains("exit code 3"))
        }
    }

    @Test func aRefusalEndsOneDeliveryAndTheLastAttemptGivesUp() async throws {
        try await TestStack.withStore { store, _ in
            try await Self.service(store, notify: Self.channels())
            let receiver = Receiver([Self.slackURL: [404], Self.hookURL: [500, 500]])
            let handler = Self.handler(store, receiver)
            _ = try await Self.goLive(store)
            let job = try #require(try await Self.jobs(store).first)
            await #expect(throws: RetryLater.self) { try await handler.run(job, logger: TestStack.logger) }
            var last = job
            last.attempts = job.maxAttempts
            try await handler.run(last, logger: TestStack.logger)   // gives up without throwing
            let rows = try await store.client.query("SELECT state, answer_status FROM notification_deliveries ORDER BY channel")
                .collect().map { try $0.decode((String, Int?).self) }
            #expect(rows.map(\.0) == ["refused", "gave_up"] && rows.map(\.1) == [404, 500])
            #expect(receiver.calls(to: Self.slackURL).count == 1)   // refused: never sent again
            // And the error kept never quotes the Slack URL (it is the secret).
            let errors = try await store.client.query("SELECT coalesce(last_error, '') FROM notification_deliveries").collect()
                .map { try $0.decode(String.self) }
            #expect(!errors.contains { $0.contains(Self.slackURL) } && errors.allSatisfy { !$0.isEmpty })
        }
    }

    @Test func onlyServicesWithChannelsQueueAndAnEmptyListSilencesTheDefault() async throws {
        try await TestStack.withStore { store, _ in
            try await Self.service(store, notify: nil)
            _ = try await Self.goLive(store)
            #expect(try await Self.jobs(store).isEmpty)
            try await store.setNotifyDefault(channels: 2)
            _ = try await Self.goLive(store)
            #expect(try await Self.jobs(store).count == 1)
            try await Self.service(store, notify: [])
            _ = try await Self.goLive(store)
            #expect(try await Self.jobs(store).count == 1)
            // The default's channels are the handler's, as SLIPWAY_NOTIFY gave them.
            try await Self.service(store, notify: nil)
            let receiver = Receiver()
            try await Self.handler(store, receiver, fallback: Self.channels()).run(try await Self.jobs(store)[0], logger: TestStack.logger)
            #expect(receiver.calls(to: Self.slackURL).count == 1 && receiver.calls(to: Self.hookURL).count == 1)
        }
    }

    @Test func aTornDownPreviewIsTold() async throws {
        try await TestStack.withStore { store, _ in
            try await Self.service(store, notify: Self.channels(events: [.previewTornDown]))
            try await store.client.query("""
                INSERT INTO previews (service, number, state, url, closed_at, reason)
                VALUES ('web', 7, 'closed', 'https://web-pr-7.example.com', now(), 'the pull request was closed')
                """)
            try await store.finishTeardown(DeploymentTarget(service: "web", environment: .pullRequest(7)))
            let receiver = Receiver()
            try await Self.handler(store, receiver).run(try #require(try await Self.jobs(store).first), logger: TestStack.logger)
            let body = try JSONSerialization.jsonObject(with: receiver.calls(to: Self.hookURL).first?.body ?? Data()) as? [String: Any]
            #expect(body?["event"] as? String == "preview_torn_down")
            #expect((body?["preview"] as? [String: Any])?["number"] as? Int == 7)
            #expect(receiver.calls(to: Self.slackURL).count == 1)
        }
    }

    @Test func aBrokenNotificationsTableNeverStopsADeployment() async throws {
        try await TestStack.withStore { store, _ in
            try await Self.service(store, notify: Self.channels())
            try await store.client.query("DROP TABLE notifications CASCADE")
            let id = try await Self.goLive(store)
            #expect(try await store.deployment(id).record.state == .watching)
        }
    }
}
