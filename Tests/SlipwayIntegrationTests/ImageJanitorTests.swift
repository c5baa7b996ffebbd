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
    @Test func keepsRollbackTargetsAndTheLastNAndDeletesOnlyWhatSlipwayDeployed() async throws {
        try await TestStack.withStore { store, _ in
            let registry = try TestStack.registry
            let name = "jan-\(UUID().uuidString.prefix(8).lowercased())"
            let repository = "it/\(name)"
            let policy = Policy(service: name, source: .init(repo: "https://github.com/acme/\(name).git"), image: "\(registry)/\(repository)")
            try await store.syncServices([(policy, "\(name).yaml")])
            let shas = (1...6).map { String(repeating: String($0), count: 40) }
            var digests: [String] = []
            for sha in shas {
                digests.append(try await RegistryClientTests.push(to: registry, repository: repository, tag: sha, login: nil))
            }
            // Someone else's tags: `latest`, and a SHA tag CI pushed. Neither is a Slipway deployment's.
            let other = try await RegistryClientTests.push(to: registry, repository: repository, tag: "latest", login: nil)
            let ci = try await RegistryClientTests.push(to: registry, repository: repository, tag: String(repeating: "c", count: 40), login: nil)

            // 1..5 succeed in turn; 6 crashes and is rolled back to 5.
            var ids: [Int64] = []
            for (index, sha) in shas.enumerated() {
                let id = try await store.createDeployment(service: name, trigger: .manual, sha: sha, image: nil, firstJob: .build)
                try await store.finishBuild(id, service: name, policy: policy, sha: sha, image: "\(registry)/\(repository):\(sha)", digest: digests[index])
                try await store.goLive(id, target: .main(name), policy: policy)
                try await store.transition(id, to: index == 5 ? .rolledBack : .succeeded)
                ids.append(id)
            }
            try await store.setLive(.main(name), deploymentID: ids[4])

            // keep 3: the three newest successful (5, 4, 3) stay; 5 is also live and 4 the rollback target.
            let janitor = ImageJanitor(store: store, registry: RegistryClient(), keep: 3,
                                       lease: LeaderLease(pool: store.pool, name: "retention-\(name)", logger: Logger(label: "test")),
                                       logger: Logger(label: "test"))
            let dry = await janitor.prune(service: name, dryRun: true)
            #expect(dry.problem == nil, "\(String(describing: dry.problem))")
            #expect(dry.services == [name])
            #expect(Set(dry.deleted) == [digests[0], digests[1], digests[5]])
            #expect(try await RegistryClient().tags(host: registry, repository: repository).count == 8, "a dry run deletes nothing")

            let report = await janitor.prune(service: name)
            #expect(Set(report.deleted) == [digests[0], digests[1], digests[5]])
            #expect(report.kept[digests[4]] == "\(name): live (deployment \(ids[4]))")
            #expect(report.kept[digests[3]] == "\(name): what a rollback would put back (deployment \(ids[3]))")
            #expect(report.kept[digests[2]]?.contains("one of the last 3 successful") == true, "keep 3 holds the third newest too")
            #expect(report.kept[other]?.hasPrefix("no Slipway deployment refers to it") == true)
            #expect(report.kept[ci]?.hasPrefix("no Slipway deployment refers to it") == true)
            let left = try await RegistryClient().tags(host: registry, repository: repository)
            #expect(Set(left) == Set(shas[2...4] + ["latest", String(repeating: "c", count: 40)]))

            // Running again finds nothing more to delete; a build in flight holds the repository.
            #expect(await janitor.prune(service: name).deleted.isEmpty)
            _ = try await store.createDeployment(service: name, trigger: .manual, sha: shas[0], image: nil, firstJob: .build)
            let busy = await janitor.prune(service: name)
            #expect(busy.problem?.contains("is queued") == true, "\(String(describing: busy.problem))")
        }
    }
}
