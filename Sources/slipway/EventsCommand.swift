import ArgumentParser
import Foundation
import SlipwayApp
import SlipwayCore
import SlipwayWebhooks

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Webhook events.", subcommands: [Parse.self])

    struct Parse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "parse",
            abstract: "Print the normalized event Slipway makes of a webhook body.",
            discussion: "Example: slipway events parse --header 'X-GitHub-Event: push' payload.json")

        @Option(name: .customLong("header"), help: "A request header, as 'Name: value' (repeatable).")
        var headers: [String] = []

        @Option(help: "Check the signature with this webhook secret.")
        var secret: String?

        @Argument(help: "The body: a file, or - for standard input.")
        var file: String

        func run() async throws {
            var parsed = WebhookHeaders()
            for line in headers {
                guard let (name, value) = WebhookHeaders.parseLine(line) else {
                    throw ValidationError("--header `\(line)` is not 'Name: value'")
                }
                parsed[name] = value
            }
            let body: Data
            if file == "-" {
                body = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let data = FileManager.default.contents(atPath: file) else {
                    printError("cannot read \(file)")
                    throw ExitCode(1)
                }
                body = data
            }
            if let secret, let provider = WebhookParser.provider(for: parsed, body: body) {
                guard WebhookSignature.verify(provider: provider, headers: parsed, body: body, secret: secret) else {
                    printError("\(WebhookSignature.header(for: provider)) does not match: the secret differs, or the body was changed after signing")
                    throw ExitCode(1)
                }
            }
            do {
                try printJSON(try WebhookParser.parse(headers: parsed, body: body))
            } catch let error as WebhookError {
                printError(error.message)
                throw ExitCode(1)
            }
        }
    }
}

struct PoliciesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies", abstract: "Policy files.", subcommands: [Validate.self, History.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate", abstract: "Check policy files; errors as file:line:col: message, exit 1 on any.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "A policy file or a folder of them.")
        var path: String

        func run() async throws {
            let config = try global.configuration()
            do {
                let policies = try PolicyLoader(allowLocalRepos: config.allowLocalRepos, secretRules: config.policySecretRules).load(path: path)
                print("\(policies.count) service\(policies.count == 1 ? "" : "s") valid: \(policies.map(\.policy.service).joined(separator: ", "))")
            } catch {
                print(error.description)
                throw ExitCode(1)
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history", abstract: "The policy sets the server read, newest first: applied, or rejected with their errors.")

        @OptionGroup var global: GlobalOptions

        @Option(help: "How many to show.")
        var limit = 10

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let config = try global.configuration()
            let limit = self.limit
            let sets = if let remote = try RemoteControl.from(config) {
                try await remote.policySets(limit: limit)
            } else {
                try await withStore(config) { try await Operations(store: $0).policySets(limit: limit) }
            }
            if json {
                try printJSON(sets)
                return
            }
            if sets.isEmpty { print("no policy set read yet; `slipway serve` reads SLIPWAY_POLICIES at start") }
            for set in sets {
                let revision = set.revision.hasPrefix("files:") ? set.revision : RolloutDecisions.shortSHA(set.revision)
                print("#\(set.id)  \(set.state.padding(toLength: 8, withPad: " ", startingAt: 0))  \(revision)  \(ISO8601.format(set.createdAt))  \(set.source)")
                if set.state == "applied" { print("      services: \(set.services.joined(separator: ", "))") }
                for error in set.errors.prefix(20) { print("      \(Terminal.printable(error))") }
                if set.errors.count > 20 { print("      … \(set.errors.count - 20) more") }
            }
        }
    }
}

import SlipwayPolicy
