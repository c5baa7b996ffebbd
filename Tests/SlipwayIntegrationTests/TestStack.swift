import Foundation
import SlipwayTestSupport
import Logging
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import SlipwayApp
import SlipwayCore
import SlipwayRuntime
import SlipwayServer
import SlipwayStore
import SlipwayWebhooks
import Testing

/// The real parts `deploy/test.sh` started (`deploy/local/stack.sh up`), read from the
/// environment. Without them these suites are skipped, unless SLIPWAY_REQUIRE_INTEGRATION=1
/// (as in CI), where a missing part fails the run instead of hiding it.
enum TestStack {
    static let environment = ProcessInfo.processInfo.environment

    static var enabled: Bool {
        environment["SLIPWAY_REQUIRE_INTEGRATION"] == "1" || environment["SLIPWAY_STACK_DATABASE_URL"] != nil
    }

    static func value(_ key: String) throws -> String {
        guard let value = environment[key], !value.isEmpty else {
            throw StackMissing(key: key)
        }
        return value
    }

    struct StackMissing: Error, CustomStringConvertible {
        var key: String
        var description: String { "\(key) is not set: run the tests with deploy/test.sh, which starts the real parts" }
    }

    static var databaseURL: String { get throws { try value("SLIPWAY_STACK_DATABASE_URL") } }
    static var dockerHost: String { get throws { try value("SLIPWAY_STACK_DOCKER_HOST") } }
    static var registry: String { get throws { try value("SLIPWAY_STACK_REGISTRY") } }
    static var baseImage: String { get throws { try value("SLIPWAY_STACK_BASE_IMAGE") } }
    static var dockerNetwork: String? { environment["SLIPWAY_STACK_DOCKER_NETWORK"].flatMap { $0.isEmpty ? nil : $0 } }

    static let logger: Logger = {
        var logger = Logger(label: "slipway.test")
        logger.logLevel = environment["SLIPWAY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }()

    /// A fresh database on the stack's cluster, migrated; each test gets its own so suites run in parallel.
    static func freshDatabase() async throws -> DatabaseURL {
        let admin = try DatabaseURL(parsing: try databaseURL)
        let name = "slipway_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))"
        let client = PostgresClient(configuration: Database.configuration(admin), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            group.cancelAll()
        }
        var url = admin
        url.database = name
        return url
    }

    /// Runs `body` with a Store on a fresh, migrated database.
    static func withStore<T: Sendable>(_ body: @Sendable (Store, DatabaseURL) async throws -> T) async throws -> T {
        let url = try await freshDatabase()
        return try await Store.open(url, logger: logger, migrate: true) { try await body($0, url) }
    }

    static func temporaryDirectory(_ prefix: String) throws -> String {
        try Scratch.directory(prefix)
    }
}

extension TestStack {
    /// `Authorization: Bearer …` of a fresh token of `role` in `store`.
    static func bearer(_ store: Store, role: APIRole = .admin, name: String = "test-\(UUID().uuidString.prefix(6))") async throws -> HTTPFields {
        let token = try await Operations(store: store).createToken(name: name, role: role, expiresIn: nil)
        return [.authorization: "Bearer \(token)"]
    }
}

extension TestStack {
    /// A `web` service on a fresh database behind the whole router (API, dashboard, webhooks).
    static func withWebApp(runtime: (any Runtime)? = nil,
                           _ body: @Sendable (any TestClientProtocol, Store) async throws -> Void) async throws {
        try await withStore { store, _ in
            try await store.syncServices([(Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"),
                                                  image: "127.0.0.1:5000/acme/web"), "web.yaml")])
            let intake = WebhookIntake(store: store, secrets: [:], logger: logger)
            let app = Application(router: HTTPServer.router(operations: Operations(store: store, runtime: runtime), intake: intake))
            try await app.test(.router) { client in try await body(client, store) }
        }
    }
}
