import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// Counts by state, read at scrape time: every replica reports the same shared truth.
    public func metricCounts() async throws -> (jobs: [(kind: String, state: String, count: Int)],
                                                deployments: [(service: String, state: String, count: Int)]) {
        var jobs: [(String, String, Int)] = []
        for try await row in try await client.query("SELECT kind, state, count(*)::int FROM jobs GROUP BY kind, state ORDER BY 1, 2",
                                                    logger: logger).decode((String, String, Int).self) {
            jobs.append(row)
        }
        var deployments: [(String, String, Int)] = []
        for try await row in try await client.query("SELECT service, state, count(*)::int FROM deployments GROUP BY service, state ORDER BY 1, 2",
                                                    logger: logger).decode((String, String, Int).self) {
            deployments.append(row)
        }
        return (jobs.map { ($0.0, $0.1, $0.2) }, deployments.map { ($0.0, $0.1, $0.2) })
    }
}
