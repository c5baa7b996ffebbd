import SlipwayApp
import Foundation
import HummingbirdTesting
import NIOCore
import SlipwayCore
import SlipwayServer
import SlipwayStore
import Testing
import Hummingbird

/// `GET /api/v1/deployments/ID/stream`: what was recorded before the reader came, then
/// what happens while it reads, then `end`.
@Suite(.enabled(if: TestStack.enabled))
struct DeploymentStreamTests {
    @Test func logsStepsAndTheEndAsServerSentEvents() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"),
                                                  image: "r.example.com/acme/web"), "a.yaml")])
            let id = try await store.createDeployment(service: "web", trigger: .manual, sha: nil, image: nil, firstJob: .build)
            try await store.transition(id, to: .building)
            try await store.appendLogs(id, stream: "build", lines: ["#1 [1/2] FROM busybox", "#1 CACHED"])
            try await store.addEvent(id, kind: "step", key: "1:cached", message: "#1 cached: [1/2] FROM busybox",
                                     detail: ["number": "1", "name": "[1/2] FROM busybox", "state": "cached"])
            let intake = WebhookIntake(store: store, secrets: [:], logger: TestStack.logger)
            let app = Application(router: HTTPServer.router(operations: Operations(store: store), intake: intake))
            let auth = try await TestStack.bearer(store, role: .viewer)
            try await app.test(.live) { client in
                // While the reader waits: a step runs, then the build fails.
                let later = Task {
                    try await Task.sleep(for: .milliseconds(600))
                    try await store.appendLogs(id, stream: "build", lines: ["#2 [2/2] RUN make", "#2 ERROR: exit code: 2"])
                    try await store.addEvent(id, kind: "step", key: "2:error", message: "#2 error 0.4s: [2/2] RUN make",
                                             detail: ["number": "2", "name": "[2/2] RUN make", "state": "error", "seconds": "0.400"])
                    try await store.transition(id, to: .failed, reason: "build failed: exit code: 2")
                }
                let started = ContinuousClock.now
                try await client.execute(uri: "/api/v1/deployments/\(id)/stream", method: .get, headers: auth) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "text/event-stream")
                    let text = String(buffer: response.body)
                    let events = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
                    let kinds = events.compactMap { $0.split(separator: "\n").first { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) } }
                    #expect(kinds.first == "state", "\(kinds)")
                    #expect(kinds.last == "end", "\(kinds)")
                    #expect(kinds.filter { $0 == "log" }.count == 4)
                    #expect(kinds.filter { $0 == "step" }.count == 2)
                    #expect(text.contains(#"data: {"at":"#) && text.contains(##""line":"#2 ERROR: exit code: 2","stream":"build"}"##), "\(text)")
                    #expect(text.contains(#""name":"[2/2] RUN make","number":"2","seconds":"0.400","state":"error"}"#), "\(text)")
                    #expect(text.hasSuffix(#"event: end"# + "\n" + #"data: {"reason":"build failed: exit code: 2","state":"failed"}"# + "\n\n"), "\(text)")
                }
                #expect(ContinuousClock.now - started >= .milliseconds(500), "it followed the deployment until it ended")
                try await later.value
                try await client.execute(uri: "/api/v1/deployments/999999/stream", method: .get, headers: auth) { response in
                    #expect(response.status == .notFound)
                }
            }
        }
    }

    /// The event data is written by hand (faster than JSONSerialization): whatever a line
    /// holds, a JSON parser reads back the same string, and no raw line break ends the event early.
    @Test(arguments: ["plain", "quote \" and \\ backslash", "tab\tcr\rlf\nend", "\u{1B}[31mred\u{1B}[0m", "nul\u{0}bell\u{7}",
                      "<script>alert(1)</script>", "ünïcødé ✓ 🚀", "line\u{2028}sep\u{2029}", "/slashes/", ""])
    func eventDataIsJSONThatReadsBackTheSame(_ text: String) throws {
        let event = ServerSentEvents.event("log", ["line": text, "stream": "build"], id: "log-1")
        let lines = event.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5 && lines[3] == "" && lines[4] == "", "one event, three lines, a blank line: \(lines)")
        let data = try #require(lines.first { $0.hasPrefix("data: ") }).dropFirst(6)
        let parsed = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: String]
        #expect(parsed == ["line": text, "stream": "build"])
    }

    /// Many followers of one deployment share one reader: each gets every line once, in
    /// order, then the end; the reader goes away with the last follower.
    @Test func manyFollowersShareOneReaderAndEachGetsEverything() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"),
                                                  image: "r.example.com/acme/web"), "a.yaml")])
            let id = try await store.createDeployment(service: "web", trigger: .manual, sha: nil, image: nil, firstJob: .build)
            try await store.transition(id, to: .building)
            try await store.appendLogs(id, stream: "build", lines: (0..<50).map { "L\($0)" })
            let feeds = DeploymentFeeds(store: store, interval: .milliseconds(20), logger: TestStack.logger)
            let operations = Operations(store: store, feeds: feeds)
            let followers = 30
            let joined = AsyncStream<Void>.makeStream()
            let results = Task {
                try await withThrowingTaskGroup(of: (lines: [String], end: String?).self) { group in
                    for _ in 0..<followers {
                        group.addTask {
                            var lines: [String] = [], end: String?, first = true
                            try await operations.watch(id).run { batch in
                                if first { first = false; joined.continuation.yield() }
                                for item in batch.items {
                                    switch item {
                                    case .log(let line): lines.append(line.line)
                                    case .done(let record): end = record.state.rawValue
                                    case .event, .quiet: break
                                    }
                                }
                            }
                            return (lines, end)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            var seen = 0
            for await _ in joined.stream {
                seen += 1
                if seen == followers { break }
            }
            #expect(feeds.count == 1, "one reader for all \(followers) followers")
            for batch in 1..<20 {
                try await store.appendLogs(id, stream: "build", lines: (0..<50).map { "L\(batch * 50 + $0)" })
            }
            try await store.transition(id, to: .failed, reason: "build failed: exit code: 2")
            let got = try await results.value
            #expect(got.count == followers)
            for follower in got {
                #expect(follower.lines == (0..<1000).map { "L\($0)" })
                #expect(follower.end == "failed")
            }
            #expect(feeds.count == 0, "the reader went away with the last follower")
            // A follower after the end gets the whole story from a new reader.
            var late = 0
            try await operations.watch(id).run { batch in late += batch.items.filter { if case .log = $0 { true } else { false } }.count }
            #expect(late == 1000)
        }
    }
}
