import Foundation
import Logging
import SlipwayController
import SlipwayCore
import SlipwayRegistry
import SlipwayStore
import Testing

/// Image retention against the real registry: what goes and what stays after deploys and a
/// rollback, with the images pushed by the engine and the history in Postgres.
@Suite(.enabled(if: TestStack.enabled))
struct ImageJanitorTests {
    @Test func keepsRollbackTargetsAndDeletesTheRest() async throws {
        try await TestStack.withStore { store, _ in
            let registry = try TestStack.registry
            let name = "jan-\(UUID().uuidString.prefix(8).lowercased())"
            let repository = "it/\(name)"
            let policy = Policy(service: name, source: .init(repo: "https://github.com/acme/\(name).git"), image: "\(registry)/\(repository)")
            try await store.syncServices([(policy, "\(name).yaml")])
            let shas = (1...5).map { String(repeating: String($0), count: 40) }
            var digests: [String] = []
            for sha in shas {
                digests.append(try await RegistryClientTests.push(to: registry, repository: repository, tag: sha, login: nil))
            }
            // Someone else's tag: left alone, and so is its image.
            let other = try await RegistryClientTests.push(to: registry, repository: repository, tag: "latest", login: nil)

            // 1..4 succeed in turn; 5 crashes and is rolled back to 4.
            var ids: [Int64] = []
            for (index, sha) in shas.enumerated() {
                let id = try await store.createDeployment(service: name, trigger: .manual, sha: sha, image: nil, firstJob: .build)
                try await store.finishBuild(id, service: name, policy: policy, sha: sha, image: "\(registry)/\(repository):\(sha)", digest: digests[index])
                _ = try await store.goLive(id, service: name)
                try await store.transition(id, to: index == 4 ? .rolledBack : .succeeded)
                ids.append(id)
            }
            try await store.setLive(service: name, deploymentID: ids[3])

            let janitor = ImageJanitor(store: store, registry: RegistryClient(), keep: 1,
                                       lease: LeaderLease(pool: store.pool, name: "retention-\(name)", logger: Logger(label: "test")),
                                       logger: Logger(label: "test"))
            let dry = await janitor.prune(service: name, dryRun: true)
            #expect(dry.problem == nil)
            #expect(Set(dry.deleted) == [digests[0], digests[1], digests[4]])
            #expect(try await RegistryClient().tags(host: registry, repository: repository).count == 6, "a dry run deletes nothing")

            let report = await janitor.prune(service: name)
            #expect(Set(report.deleted) == [digests[0], digests[1], digests[4]])
            #expect(report.kept[digests[3]] == "live (deployment \(ids[3]))")
            #expect(report.kept[digests[2]] == "what a rollback would put back (deployment \(ids[2]))")
            #expect(report.kept[other] == "tag latest was not made by Slipway")
            let left = try await RegistryClient().tags(host: registry, repository: repository)
            #expect(Set(left) == [shas[2], shas[3], "latest"])

            // Running again finds nothing more to delete.
            #expect(await janitor.prune(service: name).deleted.isEmpty)
        }
    }
}
