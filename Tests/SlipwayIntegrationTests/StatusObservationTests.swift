import Foundation
import SlipwayApp
import SlipwayCore
import SlipwayFakes
import SlipwayRuntime
import SlipwayStore
import Testing

/// `status` says what runs: a live revision whose instances were stopped outside Slipway is
/// `down` with `running: 0` wherever a runtime answers; without one, the database's word stands.
@Suite(.enabled(if: TestStack.enabled))
struct StatusObservationTests {
    @Test func aRevisionStoppedByHandIsDownWithNothingRunning() async throws {
        try await TestStack.withStore { store, _ in
            let policy = Policy(service: "web", source: .init(repo: "https://github.com/acme/web.git"), image: "r.example.com/acme/web",
                                deploy: .init(count: 2))
            try await store.syncServices([(policy, "web.yaml")])
            let sha = "3f2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
            let id = try await store.createDeployment(service: "web", trigger: .manual, sha: sha, image: "r.example.com/acme/web:\(sha)",
                                                      firstJob: .build)
            for state in [DeploymentState.building, .rollingOut, .watching, .succeeded] { _ = try await store.transition(id, to: state) }
            try await store.setLive(.main("web"), deploymentID: id)
            let runtime = FakeRuntime()
            _ = try await runtime.start(try #require(Revision.of(try await store.deployment(id).record, policy: policy)))

            let running = try #require(try await Operations(store: store, runtime: runtime).status(service: "web").first)
            #expect(running.state == .live && running.running == 2)

            runtime.crash(id, exitCode: 0)   // `docker stop` by hand
            let stopped = try #require(try await Operations(store: store, runtime: runtime).status(service: "web").first)
            #expect(stopped.state == .down && stopped.running == 0 && stopped.liveSHA == sha)
            let json = String(decoding: try JSONEncoder.slipway.encode([stopped]), as: UTF8.self)
            #expect(json.contains(#""running" : 0"#) && json.contains(#""state" : "down""#), "\(json)")

            // No runtime to ask (the CLI with only a database): the recorded state, and no `running` key.
            let recorded = try #require(try await Operations(store: store).status(service: "web").first)
            #expect(recorded.state == .live && recorded.running == nil)
            #expect(!String(decoding: try JSONEncoder.slipway.encode([recorded]), as: UTF8.self).contains("running"))
        }
    }
}
