import Foundation
import PostgresNIO
import SlipwayCore
import SlipwayServer
import SlipwayStore
import SlipwayWebhooks
import Testing

/// Many webhooks at once: written together (group commit), and still exactly one build
/// per service left queued (latest wins), none twice, every one answered.
@Suite(.enabled(if: TestStack.enabled))
struct ConcurrentWebhookTests {
    static func push(after: String, delivery: String, before: String = String(repeating: "1", count: 40)) -> (WebhookHeaders, Data) {
        let body = """
            {"ref":"refs/heads/main","before":"\(before)","after":"\(after)",
             "commits":[{"added":[],"modified":["app.py"],"removed":[]}],
             "repository":{"full_name":"acme/shop","clone_url":"https://github.com/acme/shop.git"}}
            """
        let headers = WebhookHeaders([("X-GitHub-Event", "push"), ("X-GitHub-Delivery", delivery),
                                      ("X-Hub-Signature-256", WebhookSignature.sign(body: Data(body.utf8), secret: "s"))])
        return (headers, Data(body.utf8))
    }

    @Test func aBurstOfPushesLeavesOneQueuedBuildPerServiceAndNoDuplicates() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/web"), "a.yaml"),
                (Policy(service: "api", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/api"), "a.yaml"),
            ])
            let intake = WebhookIntake(store: store, secrets: [.github: "s"], logger: TestStack.logger)
            // 60 distinct pushes, each sent twice (a redelivery racing the original), and a second
            // hook repeating 10 of the commits under other delivery ids.
            var requests: [(WebhookHeaders, Data)] = []
            for i in 0..<60 {
                let sha = String(format: "%040x", i + 1)
                requests.append(Self.push(after: sha, delivery: "burst-\(i)"))
                requests.append(Self.push(after: sha, delivery: "burst-\(i)"))
                if i % 6 == 0 { requests.append(Self.push(after: sha, delivery: "other-hook-\(i)")) }
            }
            // A request the writer could not store in time (a starved machine) is answered 503 and
            // redelivered, as the providers do; what counts is each request's final answer.
            let answers = try await withThrowingTaskGroup(of: WebhookIntake.Answer.self) { group in
                for (headers, body) in requests.shuffled() {
                    group.addTask {
                        for _ in 0..<5 {
                            let answer = try await intake.receive(endpoint: .github, headers: headers, body: body)
                            guard case .unavailable = answer else { return answer }
                        }
                        return try await intake.receive(endpoint: .github, headers: headers, body: body)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let receipts = answers.compactMap { if case .accepted(let r) = $0 { r } else { nil } }
            #expect(receipts.count == requests.count, "not accepted: \(answers.filter { if case .accepted = $0 { false } else { true } })")
            // 60 redeliveries are duplicates; a 503'd write that still committed makes its retry one more.
            #expect(receipts.filter(\.duplicate).count >= 60)

            func count(_ sql: String) async throws -> Int64 {
                try await store.client.query(PostgresQuery(unsafeSQL: sql)).collect()[0].decode(Int64.self)
            }
            #expect(try await count("SELECT count(*) FROM webhook_deliveries") == 70)
            // Every commit deployed once per service, never twice, whichever hook's delivery got there first.
            #expect(try await count("SELECT count(*) FROM deployments") == 120)
            #expect(try await count("SELECT count(*) FROM (SELECT service, sha FROM deployments GROUP BY 1, 2 HAVING count(*) > 1) x") == 0)
            // Latest wins: per service only the newest deployment still has a queued build; the rest are superseded.
            for service in ["web", "api"] {
                let history = try await store.history(service: service, limit: 200)
                #expect(history.first?.record.state == .queued)
                #expect(history.dropFirst().allSatisfy { $0.record.state == .superseded })
                #expect(try await count("SELECT count(*) FROM jobs WHERE service = '\(service)' AND state = 'queued'") == 1)
                #expect(try await count("""
                    SELECT count(*) FROM jobs j JOIN deployments d ON d.id = j.deployment_id
                    WHERE j.service = '\(service)' AND j.state = 'queued' AND d.id = \(history[0].id)
                    """) == 1)
            }
            // The second hook's deliveries: the commit was deploying, or already deployed and superseded since.
            let secondHook = receipts.filter { $0.deliveryID.hasPrefix("other-hook-") || $0.deliveryID.hasPrefix("burst-") }
                .filter { $0.skipped.count == 2 }
            #expect(secondHook.count == 10)
            #expect(secondHook.allSatisfy { $0.skipped.values.allSatisfy { $0.contains("already deploying") || $0.contains("was already deployed") } })
        }
    }

    @Test func aLateSecondAnnouncementOfAPushDoesNotBringItBackButAForcePushBackDoes() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/web"), "a.yaml"),
            ])
            let intake = WebhookIntake(store: store, secrets: [.github: "s"], logger: TestStack.logger)
            func send(_ after: String, before: String, delivery: String) async throws -> WebhookIntake.Receipt {
                let (headers, body) = Self.push(after: after, delivery: delivery, before: before)
                guard case .accepted(let receipt) = try await intake.receive(endpoint: .github, headers: headers, body: body) else {
                    throw CancellationError()
                }
                return receipt
            }
            let a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40), c = String(repeating: "c", count: 40)
            _ = try await send(a, before: c, delivery: "1")
            _ = try await send(b, before: a, delivery: "2")                 // supersedes a
            let late = try await send(a, before: c, delivery: "org-hook-1")  // the same push of a, announced again
            #expect(late.deployments.isEmpty)
            #expect(late.skipped["web"]?.hasPrefix("this push of commit aaaaaaaaaaaa was already deployed") == true)
            let back = try await send(a, before: b, delivery: "3")          // a force-push back to a: deploys a again
            #expect(back.deployments.keys.sorted() == ["web"])
            #expect(try await store.history(service: "web").map(\.record.sha) == [a, b, a])
        }
    }

    @Test func aPushBackToTheLiveCommitWhileAnotherBuildsDeploysIt() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/web"), "a.yaml"),
            ])
            let x = String(repeating: "a", count: 40), y = String(repeating: "b", count: 40)
            func event(_ after: String, before: String) -> NormalizedEvent {
                NormalizedEvent(provider: .github, kind: .push, event: "push",
                                repository: .init(fullName: "acme/shop", cloneURL: "https://github.com/acme/shop.git"),
                                ref: "refs/heads/main", branch: "main", before: before, after: after, deleted: false)
            }
            func record(_ after: String, before: String, _ id: String) async throws -> DeliveryResult {
                try await store.recordDelivery(event(after, before: before), deliveryID: id, outcomes: [.deploy(service: "web", sha: after)])
            }
            let w = String(repeating: "0", count: 39) + "1"
            guard case .recorded(_, let first, _) = try await record(x, before: w, "1") else { throw CancellationError() }
            // x was built and went live.
            try await store.client.query("UPDATE jobs SET state = 'succeeded', finished_at = now() WHERE deployment_id = \(first["web"]!)")
            try await store.transition(first["web"]!, to: .rollingOut)
            try await store.goLive(first["web"]!, target: .main("web"), policy: try await store.deployment(first["web"]!).policy)
            _ = try await record(y, before: x, "2")                  // y builds while x is live
            guard case .recorded(_, let back, let outcomes) = try await record(x, before: y, "3") else { throw CancellationError() }
            #expect(back.keys.sorted() == ["web"], "\(outcomes)")    // back to x: it must win over y
            #expect(try await store.history(service: "web").map(\.record.state) == [.queued, .superseded, .watching])
        }
    }

    @Test func withinOneBatchTheLastPushOfACommitStands() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/web"), "a.yaml"),
            ])
            let w = String(repeating: "0", count: 39) + "1", a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40)
            let records = [(a, w), (b, a), (a, b)].enumerated().map { index, push in
                DeliveryRecord(event: NormalizedEvent(provider: .github, kind: .push, event: "push",
                                                      repository: .init(fullName: "acme/shop", cloneURL: "https://github.com/acme/shop.git"),
                                                      ref: "refs/heads/main", branch: "main", before: push.1, after: push.0, deleted: false),
                               deliveryID: "batch-\(index)", outcomes: [.deploy(service: "web", sha: push.0)])
            }
            _ = try await store.recordDeliveries(records)
            let history = try await store.history(service: "web")
            #expect(history.first?.record.sha == a && history.first?.record.state == .queued)   // the branch's head builds
            #expect(history.dropFirst().allSatisfy { $0.record.state == .superseded })
        }
    }

    @Test func aStalledDatabaseIsAnswered503WithoutWaitingForItAndTheRedeliveryDeploysOnce() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/web"), "a.yaml"),
            ])
            let intake = WebhookIntake(store: store, secrets: [.github: "s"], logger: TestStack.logger)
            _ = try await intake.receive(endpoint: .github, headers: Self.push(after: String(repeating: "9", count: 40), delivery: "warm").0,
                                         body: Self.push(after: String(repeating: "9", count: 40), delivery: "warm").1)
            let first = Self.push(after: String(repeating: "a", count: 40), delivery: "stalled-1")
            let second = Self.push(after: String(repeating: "b", count: 40), delivery: "stalled-2")
            // Another session holds the deliveries table until both requests are answered (60 s at
            // most): every write waits on it, so an answer can only come from the writer's deadlines
            // (5 s stale + 4 s write, below the providers' 10 s), never from the lock going away.
            let locked = AsyncStream<Void>.makeStream()
            let answered = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await store.client.withConnection { connection in
                    try await connection.query("BEGIN", logger: TestStack.logger)
                    try await connection.query("LOCK TABLE webhook_deliveries IN ACCESS EXCLUSIVE MODE", logger: TestStack.logger)
                    locked.continuation.yield()
                    let released = Task { for await _ in answered.stream { break } }
                    let cap = Task { try await Task.sleep(for: .seconds(60)); released.cancel() }
                    await released.value
                    cap.cancel()
                    try await connection.query("COMMIT", logger: TestStack.logger)
                }
            }
            for await _ in locked.stream { break }
            let started = ContinuousClock.now
            async let a = intake.receive(endpoint: .github, headers: first.0, body: first.1)
            try await Task.sleep(for: .seconds(1))
            async let b = intake.receive(endpoint: .github, headers: second.0, body: second.1)
            let (answerA, answerB) = try await (a, b)
            let elapsed = ContinuousClock.now - started
            answered.continuation.yield()
            try await holder.value
            guard case .unavailable = answerA, case .unavailable = answerB else {
                Issue.record("expected 503s while the table was locked, got \(answerA) and \(answerB)")
                return
            }
            print("stalled database: both answered 503 after \(elapsed) (designed bound 9 s; a starved machine adds to it)")
            // The providers redeliver: each commit ends up deployed exactly once.
            for push in [first, second] {
                guard case .accepted = try await intake.receive(endpoint: .github, headers: push.0, body: push.1) else {
                    Issue.record("redelivery refused")
                    return
                }
            }
            let shas = try await store.history(service: "web").compactMap(\.record.sha)
            #expect(shas.filter { $0 == String(repeating: "a", count: 40) }.count == 1)
            #expect(shas.filter { $0 == String(repeating: "b", count: 40) }.count == 1)
        }
    }
}
