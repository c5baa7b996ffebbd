import Foundation
import Logging
import PostgresNIO
import SlipwayCore

/// Slipway's state in Postgres. One value shared by every part of a process; each
/// method is one statement or one transaction.
public struct Store: Sendable {
    public let pool: DatabasePool
    public let queue: JobQueue
    let logger: Logger

    /// The connection pool in use now (the watchdog may replace it).
    public var client: PostgresClient { pool.client }

    init(pool: DatabasePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
        self.queue = JobQueue(pool: pool, logger: logger)
    }

    /// Opens `url` for the length of `body`: checks it answers, runs the connection pool
    /// (and a watchdog that replaces it should it wedge) beside `body`, and shuts it down after.
    public static func open<T: Sendable>(_ url: DatabaseURL, logger: Logger, migrate: Bool = false,
                                         _ body: (Store) async throws -> T) async throws -> T {
        try await Database.probe(url, logger: logger)
        let first = DatabasePool.Clients(url: url, logger: logger)
        let pool = DatabasePool(first, url: url)
        let (clients, newClients) = AsyncStream<DatabasePool.Clients>.makeStream()
        newClients.yield(first)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Runs each pair in turn; a replaced pair is shut down, failing what waits in it.
                var running: [Task<Void, Never>] = []
                for await pair in clients {
                    running.forEach { $0.cancel() }
                    running = [Task { await pair.durable.run() }, Task { await pair.relaxed.run() }]
                }
                running.forEach { $0.cancel() }
            }
            defer {
                newClients.finish()
                group.cancelAll()
            }
            let store = Store(pool: pool, logger: logger)
            // Migrations first, the watchdog after: a migration may hold its connection longer than
            // a ping may wait, and replacing the pool under it would leave the migration waiting forever.
            if migrate { _ = try await store.migrate() }
            group.addTask {
                await PoolWatchdog(pool: pool, logger: logger, interval: .seconds(2), timeout: .seconds(5),
                                   start: { newClients.yield($0) }).run()
            }
            return try await body(store)
        }
    }

    public func migrate() async throws -> [Int] {
        try await pool.migrating { try await Migrator(client: client, logger: logger).migrate() }
    }

    /// True when the database answers.
    public func ping() async -> Bool {
        (try? await client.query("SELECT 1", logger: logger).collect().count) == 1
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}

/// A service as stored: its policy in force and which deployment runs now.
public struct ServiceRow: Sendable, Hashable {
    public var name: String
    public var policy: Policy
    public var policyFile: String
    public var liveDeploymentID: Int64?
}

/// A deployment with the policy snapshot it was made from.
public struct DeploymentRow: Sendable, Hashable {
    public var record: DeploymentRecord
    public var policy: Policy
    public var branch: String?
    public var rollbackOf: Int64?
    public var id: Int64 { record.id }
}
