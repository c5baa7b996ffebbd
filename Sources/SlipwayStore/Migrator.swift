import Logging
import PostgresNIO

/// Applies the migrations embedded from `migrations/` in order, each in its own
/// transaction, under an advisory lock so replicas starting together do not race.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Hashable {
        public var version: Int
        public var name: String
        public var sql: String
    }

    public static var migrations: [Migration] {
        EmbeddedMigrations.all.compactMap { entry in
            let stem = entry.file.hasSuffix(".sql") ? String(entry.file.dropLast(4)) : entry.file
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else { return nil }
            return Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: entry.text)
        }.sorted { $0.version < $1.version }
    }

    /// Any number fixed for the project; pg_advisory_lock takes a bigint.
    static let lockID: Int64 = 0x5_1199_0001

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Returns the versions it applied (empty when the schema was current).
    /// - Parameter upTo: the last version to apply (upgrade tests stop at an older schema); nil: all.
    @discardableResult
    public func migrate(upTo: Int? = nil) async throws -> [Int] {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockID))", logger: logger)
            do {
                let applied = try await apply(on: connection, upTo: upTo ?? Int.max)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockID))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockID))", logger: logger)
                throw error
            }
        }
    }

    private func apply(on connection: PostgresConnection, upTo: Int) async throws -> [Int] {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: logger)
        var done = Set<Int>()
        for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
            done.insert(version)
        }
        var applied: [Int] = []
        for migration in Self.migrations where !done.contains(migration.version) && migration.version <= upTo {
            var log = logger
            log[metadataKey: "migration.version"] = "\(migration.version)"
            log.info("applying migration", metadata: ["migration.name": "\(migration.name)"])
            try await connection.withTransaction(logger: logger) { tx in
                for statement in SQLScript.statements(migration.sql) {
                    try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await tx.query("INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
            }
            applied.append(migration.version)
        }
        return applied
    }
}
