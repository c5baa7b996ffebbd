import ArgumentParser
import Foundation
import SlipwayApp
import SlipwayCore
import SlipwayStore

/// API tokens, made with the database (the first admin token has to come from somewhere).
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "API tokens: create one (shown once), list them, revoke one.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create", abstract: "Make a token; it is printed once, alone on the last line of standard output.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "A name for who or what holds it (`ci`, `ada@acme.com`); recorded on what it changes.")
        var name: String

        @Option(help: "viewer (reads), deployer (also deploys, rolls back, cancels, destroys previews) or admin (also manages tokens).")
        var role: String

        @Option(help: "How long it is good for, as in 90d or 12h; forever when omitted.")
        var expires: String?

        func validate() throws {
            guard APIRole(rawValue: role) != nil else { throw ValidationError("--role must be viewer, deployer or admin, not `\(role)`") }
            if let expires, TimeSpan(parsing: expires).map({ $0.milliseconds > 0 }) != true {
                throw ValidationError("--expires `\(expires)` is not a duration like 90d or 12h")
            }
        }

        func run() async throws {
            let config = try global.configuration()
            let (name, role) = (self.name, APIRole(rawValue: self.role)!)
            let expires = self.expires.flatMap(TimeSpan.init(parsing:))
            let token: String
            if let remote = try RemoteControl.from(config) {
                token = try await remote.createToken(name: name, role: role, expires: self.expires)
            } else {
                token = try await withStore(config, migrate: true) { try await Operations(store: $0).createToken(name: name, role: role, expiresIn: expires) }
            }
            let until = expires.map { " until \(ISO8601.format(Date().addingTimeInterval(Double($0.milliseconds) / 1000)))" } ?? ""
            FileHandle.standardError.write(Data("token \(name) (\(role))\(until); it is shown once, keep it now:\n".utf8))
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Live tokens: names, roles, dates (never the token).")

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print them as JSON.")
        var json = false

        func run() async throws {
            let config = try global.configuration()
            let tokens: [APITokenRecord]
            if let remote = try RemoteControl.from(config) {
                tokens = try remote.decode([APITokenRecord].self, try await remote.tokens())
            } else {
                tokens = try await withStore(config) { try await Operations(store: $0).tokens() }
            }
            if json {
                try printJSON(tokens)
                return
            }
            guard !tokens.isEmpty else {
                print("no tokens; make one with `slipway tokens create NAME --role viewer|deployer|admin`")
                return
            }
            for t in tokens {
                let used = t.lastUsedAt.map(ISO8601.format) ?? "never"
                let expires = t.expiresAt.map(ISO8601.format) ?? "never"
                print("\(t.name)  \(t.role.rawValue)  created \(ISO8601.format(t.createdAt))  last used \(used)  expires \(expires)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token: refused from the next request on.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The token's name.")
        var name: String

        func run() async throws {
            let config = try global.configuration()
            let name = self.name
            if let remote = try RemoteControl.from(config) {
                try await remote.revokeToken(name: name)
            } else {
                try await withStore(config) { try await Operations(store: $0).revokeToken(name: name) }
            }
            print("token \(name) revoked")
        }
    }
}
