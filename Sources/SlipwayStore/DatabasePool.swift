import Foundation
import Logging
import PostgresNIO
import SlipwayCore
import Synchronization

/// The connection pool in use, replaceable, and a time bound on queue operations.
///
/// PostgresNIO 1.33 can lose a request whose connection the server kills just as it is
/// sent (`pg_terminate_backend`, a failover): the call never returns and holds its
/// connection lease forever. So queue operations run `bounded` — a lost call becomes
/// an error after `operationTimeout` and the caller retries — and the watchdog in
/// `Store.open` replaces a pool whose leases have all leaked (it stops answering while
/// the database answers a fresh connection); shutting the old pool down fails what waits in it.
public final class DatabasePool: Sendable {
    /// Two pools: `durable` for what must survive a database crash, `relaxed` (sessions
    /// with synchronous_commit off) for claims and heartbeats, whose loss in a crash only
    /// means a job runs again — which leases allow anyway. It saves a WAL flush per claim.
    struct Clients: Sendable {
        var durable: PostgresClient
        var relaxed: PostgresClient

        init(url: DatabaseURL, logger: Logger) {
            durable = PostgresClient(configuration: Database.configuration(url), backgroundLogger: logger)
            var relaxedConfiguration = Database.configuration(url)
            relaxedConfiguration.options.additionalStartupParameters = [("synchronous_commit", "off")]
            relaxedConfiguration.options.maximumConnections = 10
            relaxed = PostgresClient(configuration: relaxedConfiguration, backgroundLogger: logger)
        }
    }

    private let current: Mutex<Clients>
    let url: DatabaseURL
    /// Migrations under way: the watchdog leaves the pool alone meanwhile (a migration may hold
    /// its connection longer than a ping may wait, and a replaced pool would strand it).
    private let migrations = Mutex(0)

    var isMigrating: Bool { migrations.withLock { $0 > 0 } }

    func migrating<T>(_ work: () async throws -> T) async rethrows -> T {
        migrations.withLock { $0 += 1 }
        defer { migrations.withLock { $0 -= 1 } }
        return try await work()
    }

    init(_ clients: Clients, url: DatabaseURL) {
        current = Mutex(clients)
        self.url = url
    }

    public var client: PostgresClient { current.withLock { $0.durable } }
    var relaxed: PostgresClient { current.withLock { $0.relaxed } }

    /// How long one queue operation may take before it is given up as lost.
    public let operationTimeout: Duration = .seconds(15)

    /// Runs `work` and gives up on it after `operationTimeout`; a lost call is left behind, not awaited.
    func bounded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Deadline.run(within: operationTimeout, work)
    }

    func replace(with clients: Clients) {
        current.withLock { $0 = clients }
    }
}

/// Watches a `DatabasePool` and replaces a wedged client.
struct PoolWatchdog {
    let pool: DatabasePool
    let logger: Logger
    let interval: Duration
    let timeout: Duration
    /// Starts running new clients (their `run()`), stopping the previous ones.
    let start: @Sendable (DatabasePool.Clients) -> Void

    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            let clients = [pool.client, pool.relaxed]
            var silent = false
            for client in clients where !silent {
                silent = await !answers(within: timeout, { _ = try await client.query("SELECT 1").collect() })
            }
            guard silent, !pool.isMigrating else { continue }
            // A pool is silent. Replace both only if the database itself answers a fresh connection.
            guard await answers(within: timeout, { try await Database.probe(pool.url, logger: logger) }) else { continue }
            logger.warning("the database connection pool stopped answering while the database did; replacing the pool")
            let fresh = DatabasePool.Clients(url: pool.url, logger: logger)
            start(fresh)
            pool.replace(with: fresh)
        }
    }

    /// Whether `work` finishes without error within `limit`.
    func answers(within limit: Duration, _ work: @escaping @Sendable () async throws -> Void) async -> Bool {
        (try? await Deadline.run(within: limit, work)) != nil
    }
}

/// Races work against a timer without waiting for work that ignores cancellation.
enum Deadline {
    struct Exceeded: Error, CustomStringConvertible {
        var limit: Duration
        var description: String { "the database did not answer within \(limit); the call was given up (it will be retried)" }
    }

    static func run<T: Sendable>(within limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let settled = Mutex(false)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let settle: @Sendable (Result<T, any Error>) -> Bool = { result in
                let first = settled.withLock { done -> Bool in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(with: result) }
                return first
            }
            let timer = Task {
                try await Task.sleep(for: limit)
                _ = settle(.failure(Exceeded(limit: limit)))
            }
            Task {
                let result: Result<T, any Error>
                do { result = .success(try await work()) } catch { result = .failure(error) }
                if settle(result) { timer.cancel() }
            }
        }
    }
}
