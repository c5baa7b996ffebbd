import Hummingbird
import Logging

/// The framework ceiling for deploy/bench/webhooks: a bare Hummingbird app answering
/// `GET /` with "hello", on the same machine and build settings as `slipway serve`.
enum Hello {
    static func serve(address: String, logger: Logger) async throws {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw BenchOptions.Usage() }
        let router = Router()
        router.get("/") { _, _ in "hello" }
        let app = Application(router: router, configuration: .init(address: .hostname(String(parts[0]), port: port)),
                              logger: logger)
        try await app.runService()
    }
}
