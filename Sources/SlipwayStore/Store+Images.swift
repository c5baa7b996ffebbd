import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// Every deployment, of any service (removed ones too), whose image is in `repository`
    /// (`host/path`), with each of those services' live deployment: what image retention
    /// must weigh before deleting anything there.
    public func deployments(inRepository repository: String) async throws -> (history: [DeploymentRecord], live: [String: Int64]) {
        let tagged = "\(repository):%", pinned = "\(repository)@%"
        let history = try await client.query("""
            SELECT \(unescaped: Self.deploymentColumns) FROM deployments
            WHERE image LIKE \(tagged) OR image LIKE \(pinned)
               -- a build in flight has no image yet: it counts for the repository its service builds into
               OR (image IS NULL AND state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
                   AND service IN (SELECT name FROM services WHERE policy->>'image' = \(repository)))
            ORDER BY id
            """, logger: logger).rows().map { try Self.deploymentRow($0).record }
        let services = Array(Set(history.map(\.service)))
        var live: [String: Int64] = [:]
        for row in try await client.query("""
            SELECT service, live_deployment_id FROM targets
            WHERE service = ANY(\(services)) AND environment = 'main' AND live_deployment_id IS NOT NULL
            """, logger: logger).rows() {
            live[try row.value("service")] = try row.value("live_deployment_id")
        }
        return (history, live)
    }

    /// The image repositories of every service Slipway knows, removed ones included.
    public func imageRepositories() async throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for row in try await client.query("SELECT name, policy->>'image' AS image FROM services", logger: logger).rows() {
            let name: String = try row.value("name")
            guard let image: String = try row.value("image"), let reference = try? ImageReference(parsing: image) else { continue }
            out[reference.repository, default: []].append(name)
        }
        return out
    }
}

extension Store {
    /// Digests in `repository` that open previews run now: image retention keeps them
    /// (a preview restarted or scaled must still find its image).
    public func previewPins(inRepository repository: String) async throws -> Set<String> {
        let tagged = "\(repository):%", pinned = "\(repository)@%"
        var out: Set<String> = []
        for try await digest in try await client.query("""
            SELECT d.digest FROM targets t
            JOIN deployments d ON d.id = t.live_deployment_id
            JOIN previews p ON p.service = t.service AND 'pr-' || p.number = t.environment AND p.state = 'open'
            WHERE t.environment <> 'main' AND d.digest IS NOT NULL AND (d.image LIKE \(tagged) OR d.image LIKE \(pinned))
            """, logger: logger).decode(String.self) {
            out.insert(digest)
        }
        return out
    }
}
