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
}
