import SlipwayApp
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
        let service = self.service, json = self.json
        let statuses: [ServiceStatus], problems: [ReportProblem]
        // The JSON carries each deployment's timeline; the text does not show it.
        if let remote = try RemoteControl.from(config) {
            (statuses, problems) = (try await remote.status(service: service, timelines: json), [])
        } else {
            (statuses, problems) = try await withStore(config) { store in
                (try await Operations(store: store).status(service: service, timelines: json), try await store.reportProblems())
            }
        }
        if json {
            try printJSON(statuses)
            return
        }
        for status in statuses {
            let running = status.running.map { $0 == 0 ? "  (not running: stopped outside Slipway?)" : "  (\($0) running)" } ?? ""
            print("\(status.service)  \(status.state.rawValue)  live: \(status.liveSHA.map(RolloutDecisions.shortSHA) ?? "-")\(running)")
            for d in status.deployments.prefix(service == nil ? 3 : 10) {
                let sha = d.sha.map(RolloutDecisions.shortSHA) ?? (d.image ?? "-")
                print("  #\(d.id)  \(d.state.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0))  \(sha)  \(d.trigger.rawValue)  \(ISO8601.format(d.createdAt))")
                if let reason = d.reason, d.state == .failed || d.state == .rolledBack || d.state == .superseded {
                    // Rows stored before lines were cleaned on the way in are cleaned on the way out.
                    for line in reason.split(separator: "\n").prefix(6) { print("      \(Terminal.printable(String(line)))") }
                }
            }
        }
        // Statuses and comments the source host did not take: deployments went on; these wait or gave up.
        if !problems.isEmpty {
            print("not yet reported to source hosts:")
            for p in problems {
                print("  \(p.provider) \(Terminal.printable(p.repository)) \(Terminal.printable(p.subject)): \(Terminal.printable(p.error, limit: 300))")
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
        if let remote = try RemoteControl.from(config) {
            if follow {
                try await remote.follow(id, line: { print(Terminal.printable($0)) }, end: { state, reason in
                    print(reason.map { "== \(state): \(Terminal.printable($0, newlines: true))" } ?? "== \(state)")
                })
            } else {
                for line in try await remote.logs(id) { print(Terminal.printable(line)) }
                let (state, reason) = try await remote.deployment(id)
                print(reason.flatMap { ["failed", "rolled_back", "cancelled", "superseded", "succeeded"].contains(state) ? "== \(state): \(Terminal.printable($0, newlines: true))" : nil } ?? "== \(state)")
            }
            return
        }
        try await withStore(config) { store in
            try await Operations(store: store).follow(id, every: .milliseconds(500)).run(follow: follow) { items in
                for item in items { switch item {
                case .log(let line):
                    print(Terminal.printable(line.line))
                case .done(let record):
                    if record.state.isFinal, let reason = record.reason {
                        print("== \(record.state.rawValue): \(Terminal.printable(reason, newlines: true))")
                    } else {
                        print("== \(record.state.rawValue)")
                    }
                case .event, .quiet:
                    break
                } }
            }
        }
    }
}
