import SlipwayApp
import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayStore

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Build and roll out a commit (default: the newest on the tracked branch), or roll out a prebuilt image.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The service, as named in its policy.")
    var service: String

    @Option(help: "The commit to deploy.")
    var sha: String?

    @Option(help: "A prebuilt image (repo:tag or repo@digest) to roll out without a build.")
    var image: String?

    func run() async throws {
        let config = try global.configuration()
        let (service, sha, image) = (self.service, self.sha, self.image)
        let id = try await withStore(config) { try await Operations(store: $0).deploy(service: service, sha: sha, image: image) }
        print("deployment \(id) queued for \(service); follow it with `slipway logs \(id) --follow`")
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Roll back to the last good revision before the live one, or to a chosen deployment.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The service, as named in its policy.")
    var service: String

    @Option(help: "The deployment whose image to put back.")
    var to: Int64?

    func run() async throws {
        let config = try global.configuration()
        let (service, to) = (self.service, self.to)
        let (id, target) = try await withStore(config) { try await Operations(store: $0).rollback(service: service, to: to) }
        let what = target.sha.map(RolloutDecisions.shortSHA) ?? target.image ?? "?"
        print("deployment \(id) queued: \(service) back to deployment \(target.id) (\(what)); follow it with `slipway logs \(id) --follow`")
    }
}

struct BuildsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "builds", abstract: "Builds in flight.", subcommands: [Cancel.self])

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel",
            abstract: "Cancel a deployment that has not gone live: its queued jobs end, a running build stops within seconds.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The deployment id (see `slipway status SERVICE`).")
        var deployment: Int64

        func run() async throws {
            let config = try global.configuration()
            let id = deployment
            let (queued, running) = try await withStore(config) { try await Operations(store: $0).cancel(deploymentID: id) }
            if running.isEmpty {
                print("deployment \(id) cancelled\(queued.isEmpty ? "" : " (\(queued.count) queued job\(queued.count == 1 ? "" : "s") ended)")")
            } else {
                print("deployment \(id): asked the running build to stop; `slipway status` shows it as cancelled once it has")
            }
        }
    }
}
