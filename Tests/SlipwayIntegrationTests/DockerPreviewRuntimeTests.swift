import Foundation
import SlipwayCore
import SlipwayDocker
import SlipwayRuntime
import Testing

/// Previews on the real engine: a preview's containers are found by their labels, only for
/// the services this installation knows (another one sharing the engine owns the rest), and
/// teardown removes them and untags the preview's images, leaving main's alone.
@Suite(.enabled(if: TestStack.enabled))
struct DockerPreviewRuntimeTests {
    @Test func previewsAreFoundOnlyForKnownServicesAndTeardownRemovesThemAndTheirTags() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let runtime = DockerRuntime(engine: engine, network: TestStack.dockerNetwork)
        let mine = "dp-\(UUID().uuidString.prefix(8).lowercased())", theirs = "dq-\(UUID().uuidString.prefix(8).lowercased())"
        let base = try TestStack.baseImage
        let previewImage = "\(try TestStack.registry)/it/\(mine):pr-5-abc"
        try await engine.tag(base, as: previewImage)
        let policy = Policy(service: mine, source: .init(repo: "https://github.com/acme/x.git"), image: "\(try TestStack.registry)/it/\(mine)")
        // Containers labelled as the runtime labels them: main and a preview of `mine`, a preview of `theirs`.
        for (service, environment, image) in [(mine, "main", base), (mine, "pr-5", previewImage), (theirs, "pr-5", base)] {
            let id = try await engine.createContainer(ContainerSpec(
                name: "slipway-\(service)-\(environment)-\(UUID().uuidString.prefix(6).lowercased())", image: image, env: [:],
                labels: [DockerRuntime.serviceLabel: service, DockerRuntime.environmentLabel: environment, DockerRuntime.deploymentLabel: "1"],
                network: TestStack.dockerNetwork, restartPolicy: "no", command: ["sleep", "60"]))
            try await engine.startContainer(id)
        }
        defer {
            Task {
                for id in (try? await engine.containers(labels: ["slipway.service": theirs])) ?? [] { try? await engine.removeContainer(id) }
                for id in (try? await engine.containers(labels: ["slipway.service": mine])) ?? [] { try? await engine.removeContainer(id) }
            }
        }
        let preview = DeploymentTarget(service: mine, environment: .pullRequest(5))
        #expect(try await runtime.previewTargets([policy]) == [preview])

        try await runtime.tearDown(preview, policy: policy, images: [previewImage])
        #expect(try await engine.containers(labels: ["slipway.service": mine, "slipway.environment": "pr-5"]).isEmpty)
        #expect(try await engine.containers(labels: ["slipway.service": mine, "slipway.environment": "main"]).count == 1)
        #expect(try await engine.containers(labels: ["slipway.service": theirs]).count == 1, "another installation's preview was touched")
        #expect(try await engine.imageExists(previewImage) == false)
        #expect(try await engine.imageExists(base), "untagging the preview's tag removed the image main runs")
        #expect(try await runtime.previewTargets([policy]).isEmpty)
    }
}
