import SlipwayApp
import ArgumentParser
import Foundation
import Logging
import SlipwayController
import SlipwayDocker
import SlipwayStore

struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images", abstract: "The images Slipway keeps in the registries.", subcommands: [Prune.self])

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Delete images Slipway deployed that no deployment worth keeping needs (the server does this every hour with SLIPWAY_IMAGE_RETENTION).",
            discussion: "Kept, per service using the repository: the last N successful deployments' images, the live one, the one a rollback would put back, those in flight; and every image no Slipway deployment refers to. Registries free the space at their next garbage collection.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The repository of one service; all when omitted.")
        var service: String?

        @Option(help: "How many of the newest successful deployments keep their images (default: SLIPWAY_IMAGE_RETENTION, 10).")
        var keep: Int?

        @Flag(help: "Say what would be deleted, delete nothing.")
        var dryRun = false

        func run() async throws {
            let config = try global.configuration()
            let keep = self.keep ?? config.imageRetention ?? 10
            guard keep >= 0 else { throw CLIError("--keep must be 0 or more") }
            let (service, dryRun) = (self.service, self.dryRun)
            let registry = RuntimeWiring(engine: try DockerEngine(host: config.dockerHost), network: nil, logger: Logs.quiet).registry
            let reports = try await withStore(config) { store in
                let janitor = ImageJanitor(store: store, registry: registry, keep: keep,
                                           lease: LeaderLease(pool: store.pool, name: "image-retention", logger: Logs.quiet), logger: Logs.quiet)
                if let service { return [await janitor.prune(service: service, dryRun: dryRun)] }
                return await janitor.pass(dryRun: dryRun)
            }
            var failed = false
            for report in reports {
                if let problem = report.problem {
                    print("\(report.repository) (\(report.services.joined(separator: ", "))): left alone: \(problem)")
                    failed = true
                    continue
                }
                print("\(report.repository) (\(report.services.joined(separator: ", "))): \(report.deleted.count) \(dryRun ? "would be deleted" : "deleted"), \(report.kept.count) kept")
                for digest in report.deleted { print("  - \(digest)") }
                for (digest, why) in report.kept.sorted(by: { $0.key < $1.key }) { print("  = \(digest)  \(why)") }
            }
            if failed { throw ExitCode(1) }
        }
    }
}
