import Foundation
import SlipwayCore
import SlipwayStore

/// A deployment as it happens, for every reader (the API's event stream, `slipway logs
/// --follow`): everything recorded before the reader came first, so a late reader misses
/// nothing, then what follows, lines and events interleaved as they happened, until it ends.
public struct DeploymentFollower: Sendable {
    public enum Item: Sendable {
        /// A build or runtime line.
        case log(LogLine)
        /// A state change, a build step, a crash, a rollback, …
        case event(DeploymentEvent)
        /// Nothing new for a while (a stream sends a keep-alive); the state it is still in.
        case quiet(DeploymentState)
        /// The last item: the deployment ended, or (not following) as it is now.
        case done(DeploymentRecord)
    }

    let store: Store
    let deploymentID: Int64
    let interval: Duration
    let clock: ServiceClock

    static let page = 5_000

    /// - Parameters:
    ///   - follow: keep going until the deployment ends; false: what there is now, then `done`.
    ///   - quietAfter: send `quiet` after this long without anything new.
    ///   - observe: the deployment's state at every look, whether or not anything is new.
    ///   - receive: what each look found, in order (never empty); `done` comes last, alone or at the end.
    public func run(follow: Bool = true, quietAfter: Duration? = nil, observe: (DeploymentState) -> Void = { _ in },
                    _ receive: ([Item]) async throws -> Void) async throws {
        var afterLog: Int64 = 0
        var afterEvent: Int64 = 0
        var quietSince = clock.elapsed()
        while true {
            try Task.checkCancellation()
            // The state first: whatever it says, the lines and events before it are sent before `done`.
            let record = try await store.deployment(deploymentID).record
            observe(record.state)
            var batch: [(at: Date, order: Int, item: Item)] = []
            // Page by page: a deployment that ended sends every line before `done`, however many.
            while true {
                let page = try await store.logs(deploymentID, after: afterLog, limit: Self.page)
                for line in page {
                    batch.append((line.at, batch.count, .log(line)))
                    afterLog = line.id
                }
                if page.count < Self.page { break }
            }
            for event in try await store.events(deploymentID, after: afterEvent) {
                batch.append((event.at, batch.count, .event(event)))
                afterEvent = event.id
            }
            var items = batch.sorted(by: { ($0.at, $0.order) < ($1.at, $1.order) }).map(\.item)
            if record.state.isFinal || !follow {
                try await receive(items + [.done(record)])
                return
            }
            if !items.isEmpty {
                quietSince = clock.elapsed()
            } else if let quietAfter, clock.elapsed() - quietSince >= quietAfter {
                items = [.quiet(record.state)]
                quietSince = clock.elapsed()
            }
            if !items.isEmpty { try await receive(items) }
            try await clock.sleep(interval)
        }
    }
}
