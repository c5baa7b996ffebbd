import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "What runs now and the latest deployments, per service.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "One service; all when omitted.")
    var service: String?

    @Flag(help: "Print the status contract as JSON.")
    var json = false

    func run() async throws {
        let config = try global.configuration()
        let service = self.service
        let statuses = try await withStore(config) { try await $0.status(service: service) }
        if let service, statuses.isEmpty {
            printError("no service `\(service)`; `slipway status` lists the services of the policies in force")
            throw ExitCode(1)
        }
        if json {
            try printJSON(statuses)
            return
        }
        for status in statuses {
            print("\(status.service)  \(status.state.rawValue)  live: \(status.liveSHA.map(RolloutDecisions.shortSHA) ?? "-")")
            for d in status.deployments.prefix(service == nil ? 3 : 10) {
                let sha = d.sha.map(RolloutDecisions.shortSHA) ?? (d.image ?? "-")
                print("  #\(d.id)  \(d.state.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0))  \(sha)  \(d.trigger.rawValue)  \(ISO8601.format(d.createdAt))")
                if let reason = d.reason, d.state == .failed || d.state == .rolledBack || d.state == .superseded {
                    // Rows stored before lines were cleaned on the way in are cleaned on the way out.
                    for line in reason.split(separator: "\n").prefix(6) { print("      \(Terminal.printable(String(line)))") }
                }
            }
        }
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "The log of a deployment: build output and what happened to it.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The deployment id (see `slipway status SERVICE`).")
    var deployment: Int64

    @Flag(help: "Keep printing new lines until the deployment ends.")
    var follow = false

    func run() async throws {
        let config = try global.configuration()
        let id = deployment
        let follow = self.follow
        try await withStore(config) { store in
            _ = try await store.deployment(id)
            var after: Int64 = 0
            while true {
                for line in try await store.logs(id, after: after) {
                    print(Terminal.printable(line.line))
                    after = line.id
                }
                let state = try await store.deployment(id).record.state
                if !follow || state.isFinal {
                    if state.isFinal, let reason = try await store.deployment(id).record.reason {
                        print("== \(state.rawValue): \(Terminal.printable(reason, newlines: true))")
                    } else {
                        print("== \(state.rawValue)")
                    }
                    return
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
