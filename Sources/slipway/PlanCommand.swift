import SlipwayApp
import ArgumentParser
import Foundation
import SlipwayController
import SlipwayCore
import SlipwayDocker
import SlipwayPolicy
import SlipwayRuntime

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "What Slipway would change, and why: desired (policies, newest commits) vs observed (runtime, registry).",
        discussion: """
            With SLIPWAY_POLICIES a folder, the plan is made from the files as they are now (check a change before it \
            is applied); with a policies repository, from the set the server applied last. Changes nothing.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "One service; all when omitted.")
    var service: String?

    @Flag(help: "Print one JSON object per service, in an array.")
    var json = false

    @Flag(help: "Exit 2 when anything is not in sync (0 when all is).")
    var detailedExitcode = false

    func run() async throws {
        let config = try global.configuration()
        let service = self.service
        if let remote = try RemoteControl.from(config) {
            if case .folder(let path)? = try? PolicySourceSpec(parsing: config.policies), FileManager.default.fileExists(atPath: path) {
                printError("note: this is the server's plan, from the set it applied; the files in \(path) are not sent (unset SLIPWAY_URL to plan them against the database)")
            }
            try show(try await remote.plan(service: service))
            return
        }
        var policies: [Policy]?
        if case .folder(let path) = try PolicySourceSpec(parsing: config.policies) {
            do {
                policies = try PolicyLoader(allowLocalRepos: config.allowLocalRepos, secretRules: config.policySecretRules).load(path: path).map(\.policy)
            } catch {
                printError(error.description)
                throw CLIError("the policies in \(path) have \(error.diagnostics.count) error\(error.diagnostics.count == 1 ? "" : "s"); nothing to plan until they validate")
            }
        }
        let engine = try DockerEngine(host: config.dockerHost)
        try show(try await withStore(config) { store in
            // This installation's containers only, as the server sees them.
            let runtime = RuntimeWiring(engine: engine, network: config.dockerNetwork, installation: try? await store.installationID(),
                                        logger: Logs.quiet).runtimes
            return try await Operations(store: store, runtime: runtime, logger: Logs.quiet).plan(service: service, policies: policies)
        })
    }

    /// The same output from the database path and the API's.
    func show(_ result: Planner.Result) throws {
        if let problem = result.runtimeProblem { printError("note: \(problem)") }
        if json {
            try printJSON(result.services)
        } else {
            for plan in result.services { print(PlanText.render(plan)) }
        }
        if detailedExitcode, result.services.contains(where: { $0.status != .inSync }) { throw ExitCode(2) }
    }
}

/// The human form of a plan: the status, the differences, then what would be done.
enum PlanText {
    static func render(_ plan: ServicePlan) -> String {
        var head = "\(plan.service)  \(plan.status.rawValue)"
        if plan.status == .blocked, let reason = plan.reason { head += " (\(reason))" }
        var lines = [head]
        if let live = plan.liveDeployment {
            lines.append("  live      deployment \(live) at \(plan.liveSHA.map(RolloutDecisions.shortSHA) ?? "-")")
        }
        if let desired = plan.desiredSHA, desired != plan.liveSHA {
            lines.append("  wanted    \(RolloutDecisions.shortSHA(desired))")
        }
        for difference in plan.differences { lines.append("  ~ \(difference)") }
        for action in plan.actions where !(plan.status == .blocked && action.kind == .nothing) {
            lines.append("  → \(action.kind.rawValue): \(action.reason)")
        }
        for preview in plan.previews ?? [] {
            lines.append("  → preview #\(preview.number) \(preview.action.rawValue): \(preview.reason)")
        }
        return lines.joined(separator: "\n")
    }
}
