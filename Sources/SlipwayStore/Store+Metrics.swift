import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// The gauges' numbers, read at scrape time: every replica reports the same shared truth.
    public func gaugeSnapshot() async throws -> GaugeSnapshot {
        var jobs: [(kind: String, state: String, count: Int)] = []
        for try await row in try await client.query("SELECT kind, state, count(*)::int FROM jobs GROUP BY kind, state ORDER BY 1, 2",
                                                    logger: logger).decode((String, String, Int).self) {
            jobs.append((row.0, row.1, row.2))
        }
        var deployments: [(service: String, state: String, count: Int)] = []
        for try await row in try await client.query("SELECT service, state, count(*)::int FROM deployments GROUP BY service, state ORDER BY 1, 2",
                                                    logger: logger).decode((String, String, Int).self) {
            deployments.append((row.0, row.1, row.2))
        }
        // Due and unclaimed; the age counts from when it became due (a retry's backoff is not waiting).
        var waiting: [GaugeSnapshot.Waiting] = []
        for try await row in try await client.query("""
            SELECT kind, count(*)::int, COALESCE(extract(epoch FROM now() - min(run_at)), 0)::float8
            FROM jobs WHERE state = 'queued' AND run_at <= now() GROUP BY kind ORDER BY 1
            """, logger: logger).decode((String, Int, Double).self) {
            waiting.append(GaugeSnapshot.Waiting(kind: row.0, count: row.1, oldestSeconds: row.2))
        }
        let rows = try await client.query("""
            SELECT (SELECT count(*)::int FROM previews WHERE state = 'open'),
                   (SELECT max(id) FROM policy_sets WHERE state = 'applied'),
                   COALESCE((SELECT state = 'rejected' FROM policy_sets ORDER BY id DESC LIMIT 1), false)
            """, logger: logger).decode((Int, Int64?, Bool).self)
        var other: (Int, Int64?, Bool) = (0, nil, false)
        for try await row in rows { other = row }
        var snapshot = GaugeSnapshot(jobs: jobs, deployments: deployments, waiting: waiting, openPreviews: other.0,
                                     policySetInForce: other.1, newestRejected: other.2)
        for try await row in try await client.query("SELECT name, expires_at > now() FROM leader_leases ORDER BY name",
                                                    logger: logger).decode((String, Bool).self) {
            snapshot.leases.append((row.0, row.1))
        }
        return snapshot
    }
}
