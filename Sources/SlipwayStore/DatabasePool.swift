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
    private let current: Mutex<PostgresClient>
    let url: DatabaseURL

    init(_ client: PostgresClient, url: DatabaseURL) {
        current = Mutex(client)
        self.url = url
    }

    public var client: PostgresClient { current.withLock { $0 } }

    /// How long one queue operation may take before it is given up as lost.
    public let operationTimeout: Duration = .seconds(15)

    /// Runs `work` and gives up on it after `operationTimeout`; a lost call is left behind, not awaited.
    func bounded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Deadline.run(within: operationTimeout, work)
    }

    /// Installs `client`; returns the one it replaces.
    func replace(with client: PostgresClient) -> PostgresClient {
        current.withLock { old in
            defer { old = client }
            return old
        }
    }
}

/// Watches a `DatabasePool` and replaces a wedged client.
struct PoolWatchdog {
    let pool: DatabasePool
    let logger: Logger
    let interval: Duration
    let timeout: Duration
    /// Starts running a new client (its `run()`), stopping the previous one.
    let start: @Sendable (PostgresClient) -> Void

    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            let client = pool.client
            guard await !answers(within: timeout, { _ = try await client.query("SELECT 1").collect() }) else { continue }
            // The pool is silent. Replace it only if the database itself answers a fresh connection.
            guard await answers(within: timeout, { try await Database.probe(pool.url, logger: logger) }) else { continue }
            logger.warning("the database connection pool stopped answering while the database did; replacing the pool")
            let fresh = PostgresClient(configuration: Database.configuration(pool.url), backgroundLogger: logger)
            start(fresh)
            _ = pool.replace(with: fresh)
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
