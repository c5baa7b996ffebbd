import ArgumentParser

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run Slipway: webhooks and API, workers (build, rollout, watch), queue maintenance.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Which parts to run: all, web (HTTP only) or worker (jobs only).")
    var roles: Roles = .all

    func run() async throws {
        let config = try global.configuration()
        let logger = Logs.bootstrap(level: config.logLevel)
        try await App.run(config: config, roles: roles, logger: logger)
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the database migrations that are not applied yet.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let config = try global.configuration()
        let applied = try await withStore(config) { try await $0.migrate() }
        print(applied.isEmpty ? "schema is current" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
    }
}
