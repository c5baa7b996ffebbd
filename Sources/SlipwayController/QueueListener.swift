import Logging
import PostgresNIO
import ServiceLifecycle
import SlipwayCore
import SlipwayStore

/// Holds one connection that LISTENs for new jobs (waking idle workers), for stop requests
/// (`<job id>:<reason>`, handed to the worker running that job) and for pushes to the
/// policies repository (waking the policy watcher). Reconnects when the connection drops;
/// workers poll, heartbeats check for stops and the watcher polls meanwhile.
public struct QueueListener: Service {
    let configuration: PostgresConnection.Configuration
    let wake: WakeSignal
    let stops: StopSignals
    /// Signalled when any replica received a push to the policies repository.
    let policiesPushed: WakeSignal?
    let logger: Logger

    public init(configuration: PostgresConnection.Configuration, wake: WakeSignal, stops: StopSignals = StopSignals(),
                policiesPushed: WakeSignal? = nil, logger: Logger) {
        self.policiesPushed = policiesPushed
        self.configuration = configuration
        self.wake = wake
        self.stops = stops
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var id = 0
            var delay = Duration.milliseconds(100)
            while !Task.isCancelled {
                id += 1
                do {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
                    delay = .milliseconds(100)
                    do {
                        try await listen(on: connection)
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("queue listener lost its connection; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                }
            }
        }
    }

    private func listen(on connection: PostgresConnection) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await connection.listen(on: JobQueue.channel) { notifications in
                    // Jobs queued before LISTEN took effect would otherwise wait a poll interval.
                    wake.signal()
                    for try await _ in notifications { wake.signal() }
                }
            }
            group.addTask {
                try await connection.listen(on: JobQueue.cancelChannel) { notifications in
                    for try await notification in notifications {
                        guard let (job, reason) = Self.stopRequest(notification.payload) else { continue }
                        stops.stop(job, reason: reason)
                    }
                }
            }
            if let policiesPushed {
                group.addTask {
                    try await connection.listen(on: JobQueue.policiesChannel) { notifications in
                        for try await _ in notifications { policiesPushed.signal() }
                    }
                }
            }
            // Any listen ending means the connection is gone: reconnect them all.
            try await group.next()
            group.cancelAll()
        }
    }

    static func stopRequest(_ payload: String) -> (Int64, StopReason)? {
        let parts = payload.split(separator: ":")
        guard parts.count == 2, let id = Int64(parts[0]), let reason = StopReason(rawValue: String(parts[1])) else { return nil }
        return (id, reason)
    }
}
