import ArgumentParser
import SlipwayApp
import Crypto
import Foundation
import SlipwayCore
import SlipwayDocker

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run Slipway on the embedded default: a private Postgres, a local registry and the local Docker engine.",
        discussion: """
            Starts what is missing under SLIPWAY_DATA_DIR (default .slipway): Postgres when DATABASE_URL is unset,
            a registry on 127.0.0.1:5000, and a Docker engine when none answers at DOCKER_HOST. Local repositories
            (file://) are allowed. Prints the webhook URL and secret, then serves until Ctrl-C.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Port of the local registry the example policies push to.")
    var registryPort: Int = 5000

    func run() async throws {
        var config = try global.configuration(defaults: ["SLIPWAY_ALLOW_LOCAL_REPOS": "1", "SLIPWAY_POLICIES": "policies/web.yaml"], readDevEnv: false)
        let logger = Logs.bootstrap(level: config.logLevel)
        let stack = try LocalStack.locate()
        let dataDir = URL(fileURLWithPath: config.dataDir).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        config.dataDir = dataDir
        var started: [(script: String, dir: String)] = []
        var devEnv: [String: String] = ["SLIPWAY_DATA_DIR": dataDir]

        if config.databaseURL == nil {
            let url = try stack.run("postgres.sh", ["start", "\(dataDir)/postgres"])
            started.append(("postgres.sh", "\(dataDir)/postgres"))
            config.databaseURL = url
            devEnv["DATABASE_URL"] = url
        }
        let registry = try stack.run("registry.sh", ["start", "\(dataDir)/registry", "\(registryPort)"])
        started.append(("registry.sh", "\(dataDir)/registry"))
        if !(await (try? DockerEngine(host: config.dockerHost))?.ping() ?? false) {
            config.dockerHost = try stack.run("dockerd.sh", ["start", "\(dataDir)/docker"])
            config.dockerNetwork = "none"
            started.append(("dockerd.sh", "\(dataDir)/docker"))
            devEnv["DOCKER_HOST"] = config.dockerHost
            devEnv["SLIPWAY_DOCKER_NETWORK"] = "none"
        }
        // One secret per provider, generated once and kept: a hook set up yesterday still works.
        for (name, providers) in [("github", [NormalizedEvent.Provider.github]), ("gitlab", [.gitlab]),
                                  ("bitbucket", [.bitbucket, .bitbucketServer])] where config.webhookSecrets[providers[0]] == nil {
            let secret = try Self.webhookSecret(dataDir: dataDir, provider: name)
            for provider in providers { config.webhookSecrets[provider] = secret }
            devEnv["SLIPWAY_WEBHOOK_SECRET_\(name.uppercased())"] = secret
        }
        let adminToken = try await Self.adminToken(config: config, dataDir: dataDir)
        devEnv["SLIPWAY_TOKEN"] = adminToken
        try Self.writeDevEnv(devEnv, to: "\(dataDir)/dev.env")

        print("""
            slipway dev
              webhook   http://\(config.httpHost):\(config.httpPort)/webhooks/github
              secret    \(config.webhookSecrets[.github]!)
              gitlab    http://\(config.httpHost):\(config.httpPort)/webhooks/gitlab      (X-Gitlab-Token \(config.webhookSecrets[.gitlab]!))
              bitbucket http://\(config.httpHost):\(config.httpPort)/webhooks/bitbucket   (secret \(config.webhookSecrets[.bitbucket]!))
              registry  \(registry)
              docker    \(config.dockerHost)\(config.dockerNetwork.map { " (network \($0))" } ?? "")
              database  \(DatabaseURL.redactingPassword(config.databaseURL ?? ""))
              api token \(adminToken)   (admin; Authorization: Bearer … on http://\(config.httpHost):\(config.httpPort)/api/v1)
              policies  \(config.policies)
            Other terminals: `slipway status` and `slipway logs ID` read \(dataDir)/dev.env.
            """)
        fflush(nil)   // the banner must show before the logs, even when output goes to a file
        defer {
            for (script, dir) in started.reversed() { _ = try? stack.run(script, ["stop", dir]) }
        }
        try await App.run(config: config, roles: .all, logger: logger)
    }

    /// An admin API token kept in the data dir (0600) and reused while it is still good; a new
    /// one (`dev-admin`) otherwise.
    static func adminToken(config: Configuration, dataDir: String) async throws -> String {
        let path = "\(dataDir)/admin-token"
        let kept = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let token: String = try await withStore(config, migrate: true) { store in
            let operations = Operations(store: store)
            if let kept, (try? await operations.authenticate(authorization: "Bearer \(kept)")) != nil { return kept }
            try? await operations.revokeToken(name: "dev-admin")
            return try await operations.createToken(name: "dev-admin", role: .admin, expiresIn: nil)
        }
        try write(token + "\n", to: path)
        return token
    }

    /// The secret is kept in the data dir so it survives restarts (the provider's hook keeps it too).
    static func webhookSecret(dataDir: String, provider: String) throws -> String {
        let path = "\(dataDir)/webhook-secret-\(provider)"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           !existing.isEmpty {
            return existing
        }
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
        try write(secret, to: path)
        return secret
    }

    static func writeDevEnv(_ values: [String: String], to path: String) throws {
        let text = "# written by `slipway dev`: where its private parts listen\n"
            + values.keys.sorted().map { "\($0)=\"\(values[$0]!)\"" }.joined(separator: "\n") + "\n"
        try write(text, to: path)
    }

    /// Readable by the owner only: both files hold secrets.
    static func write(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("cannot write \(path); check that the data dir is writable")
        }
    }
}
