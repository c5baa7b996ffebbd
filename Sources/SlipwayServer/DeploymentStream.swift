import Foundation
import SlipwayApp
import SlipwayCore

/// A deployment's `GET …/stream` body: its batches as server-sent events (`ServerSentEvents`),
/// each written as one chunk, with a keep-alive comment when nothing happens for a while.
struct DeploymentStream: Sendable {
    let watch: DeploymentWatch
    /// A comment this often keeps proxies from closing a quiet stream.
    var keepAlive: Duration = .seconds(15)

    func run(_ send: (String) async throws -> Void) async throws {
        try await watch.run(quietAfter: keepAlive) { batch in try await send(batch.text) }
    }
}
