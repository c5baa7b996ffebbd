import Foundation
import SlipwayCore
import SlipwayStore

/// The Swift half of deploy/bench/retention: runs the maintenance leader's log prune
/// (`pruneDeploymentLogs`, batches of 50 deployments, statements of 5,000 rows) until nothing
/// is left to prune, timing each batch.
enum PruneBench {
    static func run(store: Store) async throws -> String {
        var batches: [Double] = []
        var total = JobQueue.LogPrune()
        let started = ContinuousClock.now
        while true {
            let before = ContinuousClock.now
            let batch = try await store.queue.pruneDeploymentLogs(olderThan: .seconds(30 * 86_400), keep: 20)
            guard batch.deployments > 0 else { break }
            batches.append((ContinuousClock.now - before).seconds)
            total.deployments += batch.deployments
            total.lines += batch.lines
            total.events += batch.events
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let sorted = batches.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)] }
        let object: [String: Any] = [
            "deployments_pruned": total.deployments, "lines_deleted": total.lines, "events_deleted": total.events,
            "seconds": (elapsed * 1000).rounded() / 1000, "batches": batches.count,
            "batch_p50_ms": (percentile(0.5) * 1e5).rounded() / 100, "batch_max_ms": ((sorted.last ?? 0) * 1e5).rounded() / 100,
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
