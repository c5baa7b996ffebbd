import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import SlipwayCore
import SlipwayStore
import SlipwayWebhooks

/// The HTTP face of Slipway: webhooks, health, and the JSON API.
public enum HTTPServer {
    /// Webhook bodies above this are refused with 413 (GitHub caps its payloads at 25 MB).
    public static let maxWebhookBytes = 25 << 20

    /// `plan` answers `/api/v1/plan` (the planner lives with the controller).
    public static func router(store: Store, intake: WebhookIntake,
                              plan: (@Sendable (String?) async throws -> [ServicePlan])? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/health") { _, _ in "ok\n" }
        router.get("/ready") { _, _ -> Response in
            let ready = await store.ping()
            return Response(status: ready ? .ok : .serviceUnavailable,
                            body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "database unreachable\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            let counts = try await store.metricCounts()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: Metrics.render(jobs: counts.jobs, deployments: counts.deployments))))
        }
        for endpoint in WebhookIntake.Endpoint.allCases {
            router.post(RouterPath("/webhooks/\(endpoint.rawValue)")) { request, context in
                try await webhook(endpoint, request: request, context: context, intake: intake)
            }
        }
        router.get("/api/v1/services") { _, _ in
            json(try await store.status())
        }
        router.get("/api/v1/services/:name") { _, context -> Response in
            let name = try context.parameters.require("name")
            let status = try await store.status(service: name)
            guard !status.isEmpty else { return json(["error": "no service \(name)"], status: .notFound) }
            return json(status)
        }
        router.post("/api/v1/deployments/:id/cancel") { _, context -> Response in
            let id = try context.parameters.require("id", as: Int64.self)
            do {
                let (queued, running) = try await store.queue.cancel(deploymentID: id)
                return json(["deployment": "\(id)", "state": running.isEmpty ? "cancelled" : "stopping",
                             "queuedJobsEnded": "\(queued.count)", "runningJobsAsked": "\(running.count)"], status: .accepted)
            } catch let refused as CancelRefused {
                return json(["error": refused.message], status: .conflict)
            } catch StoreError.unknownDeployment {
                return json(["error": "no deployment \(id)"], status: .notFound)
            }
        }
        if let plan {
            router.get("/api/v1/plan") { request, _ -> Response in
                json(try await plan(request.uri.queryParameters.get("service")))
            }
        }
        router.get("/api/v1/policies") { _, _ in
            json(try await store.policySets())
        }
        // Server-sent events: the deployment as it happens, until it ends.
        router.get("/api/v1/deployments/:id/stream") { _, context -> Response in
            let id = try context.parameters.require("id", as: Int64.self)
            do { _ = try await store.deployment(id) } catch StoreError.unknownDeployment {
                return json(["error": "no deployment \(id)"], status: .notFound)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                            body: ResponseBody { writer in
                                try await DeploymentStream(store: store, deploymentID: id).run { text in
                                    try await writer.write(ByteBuffer(string: text))
                                }
                                try await writer.finish(nil)
                            })
        }
        router.get("/api/v1/deployments/:id/logs") { _, context -> Response in
            let id = try context.parameters.require("id", as: Int64.self)
            let lines = try await store.logs(id).map { ["stream": $0.stream, "line": $0.line, "at": ISO8601.format($0.at)] }
            return json(lines)
        }
        return router
    }

    static func webhook(_ endpoint: WebhookIntake.Endpoint, request: Request, context: BasicRequestContext,
                        intake: WebhookIntake) async throws -> Response {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxWebhookBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return json(["error": "body over \(maxWebhookBytes >> 20) MiB"], status: .contentTooLarge)
        }
        var headers = WebhookHeaders()
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        switch try await intake.receive(endpoint: endpoint, headers: headers, body: Data(buffer: buffer)) {
        case .accepted(let receipt): return json(receipt, status: .accepted)
        case .unauthorized(let message): return json(["error": message], status: .unauthorized)
        case .badRequest(let message): return json(["error": message], status: .badRequest)
        case .unavailable(let message): return json(["error": message], status: .serviceUnavailable)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONEncoder.slipway.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
