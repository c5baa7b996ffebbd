import ArgumentParser
import Foundation
import SlipwayApp
import SlipwayCore

struct PreviewsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "previews", abstract: "Pull-request previews: list them, or tear one down.",
        subcommands: [List.self, Destroy.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "The previews of a service (or of all), open ones first.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "One service; all when omitted.")
        var service: String?

        @Flag(help: "Print them as JSON (the `previews` of `slipway status --json`).")
        var json = false

        func run() async throws {
            let config = try global.configuration()
            let service = self.service
            let previews = if let remote = try RemoteControl.from(config) {
                try await remote.previews(service: service)
            } else {
                try await withStore(config) { try await Operations(store: $0).previews(service: service) }
            }
            if json {
                try printJSON(previews)
                return
            }
            guard !previews.isEmpty else {
                print(service.map { "\($0) has no previews (previews.enabled in its policy, then open a pull request)" } ?? "no previews")
                return
            }
            for preview in previews {
                let sha = preview.sha.map(RolloutDecisions.shortSHA) ?? "-"
                let branch = preview.branch.map { Terminal.printable($0, limit: 40) } ?? "-"
                print("#\(preview.number)  \(preview.service)  \(preview.state.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0))  \(sha)  \(branch)  \(preview.url ?? "-")")
                if preview.state == .tornDown, let reason = preview.reason { print("      \(Terminal.printable(reason))") }
            }
        }
    }

    struct Destroy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "destroy", abstract: "Tear a preview down now, as if its pull request had closed.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The service.")
        var service: String

        @Argument(help: "The pull (merge) request number.")
        var number: Int

        func run() async throws {
            let config = try global.configuration()
            let (service, number) = (self.service, self.number)
            if let remote = try RemoteControl.from(config) {
                try await remote.destroyPreview(service: service, number: number)
            } else {
                try await withStore(config) { try await Operations(store: $0).destroyPreview(service: service, number: number) }
            }
            print("preview of \(service) for pull request #\(number) closed; its teardown is queued (`slipway previews \(service)` shows it torn down once done)")
        }
    }
}
