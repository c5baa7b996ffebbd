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
        let id: Int64
        if let remote = try RemoteControl.from(config) {
            id = try await remote.deploy(service: service, sha: sha, image: image)
        } else {
            id = try await withStore(config) { try await Operations(store: $0).deploy(service: service, sha: sha, image: image) }
        }
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
        let (id, targetID, what): (Int64, Int64, String)
        if let remote = try RemoteControl.from(config) {
            let answer = try await remote.rollback(service: service, to: to)
            (id, targetID, what) = (answer.deployment, answer.target, answer.sha.map(RolloutDecisions.shortSHA) ?? answer.image ?? "?")
        } else {
            let (made, target) = try await withStore(config) { try await Operations(store: $0).rollback(service: service, to: to) }
            (id, targetID, what) = (made, target.id, target.sha.map(RolloutDecisions.shortSHA) ?? target.image ?? "?")
        }
        print("deployment \(id) queued: \(service) back to deployment \(targetID) (\(what)); follow it with `slipway logs \(id) --follow`")
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
            let (queued, running): (Int, Int)
            if let remote = try RemoteControl.from(config) {
                (queued, running) = try await remote.cancel(id)
            } else {
                let (q, r) = try await withStore(config) { try await Operations(store: $0).cancel(deploymentID: id) }
                (queued, running) = (q.count, r.count)
            }
            if running == 0 {
                print("deployment \(id) cancelled\(queued == 0 ? "" : " (\(queued) queued job\(queued == 1 ? "" : "s") ended)")")
            } else {
                print("deployment \(id): asked the running build to stop; `slipway status` shows it as cancelled once it has")
            }
        }
    }
}
