import Logging
import PostgresNIO
import ServiceLifecycle
import SlipwayCore
import SlipwayStore

/// Holds one connection that LISTENs on the queue channel and wakes idle workers on
/// each NOTIFY. Reconnects when the connection drops; workers poll meanwhile.
public struct QueueListener: Service {
    let configuration: PostgresConnection.Configuration
    let wake: WakeSignal
    let logger: Logger

    public init(configuration: PostgresConnection.Configuration, wake: WakeSignal, logger: Logger) {
        self.configuration = configuration
        self.wake = wake
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var id = 0
            while !Task.isCancelled {
                id += 1
                do {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
                    do {
                        try await connection.listen(on: JobQueue.channel) { notifications in
                            // Jobs queued before LISTEN took effect would otherwise wait a poll interval.
                            await wake.signal()
                            for try await _ in notifications { await wake.signal() }
                        }
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("queue listener lost its connection; reconnecting", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}

/// Puts jobs of stopped workers back in the queue: a lease that was not extended in
/// time means its worker is gone.
public struct QueueMaintenance: Service {
    let queue: JobQueue
    let interval: Duration
    let logger: Logger

    public init(queue: JobQueue, interval: Duration, logger: Logger) {
        self.queue = queue
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let rescued = try await queue.rescueExpired()
                    if rescued > 0 { logger.warning("requeued jobs whose worker stopped", metadata: ["jobs.count": "\(rescued)"]) }
                } catch {
                    if Task.isCancelled { return }
                    logger.error("rescuing expired jobs failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
