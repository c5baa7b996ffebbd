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

    /// A body up to this size is read without taking one of the budget's places for large ones
    /// (pushes are a few KiB; GitHub's largest, with 2,048 commits, are a few MiB).
    static let smallWebhookBytes = 256 << 10

    /// Webhook bodies held at once when nothing else is said (SLIPWAY_WEBHOOK_MAX_INFLIGHT_MB).
    public static let defaultInflightBytes = 128 << 20

    /// `plan` answers `/api/v1/plan` (the planner lives with the controller).
    /// `bodyReadDeadline`: how long a webhook's body may take to arrive (providers send it at once).
    public static func router(store: Store, intake: WebhookIntake, budget: BodyBudget = BodyBudget(limit: defaultInflightBytes),
                              bodyReadDeadline: Duration = .seconds(30),
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
                try await webhook(endpoint, request: request, context: context, intake: intake, budget: budget, deadline: bodyReadDeadline)
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

    /// A webhook: refused from its headers when it cannot pass (no body is read), else its
    /// body is read into the signature check as it arrives, within the size limit and the
    /// budget all requests share, and handed to the intake.
    static func webhook(_ endpoint: WebhookIntake.Endpoint, request: Request, context: BasicRequestContext,
                        intake: WebhookIntake, budget: BodyBudget, deadline bodyReadDeadline: Duration) async throws -> Response {
        var headers = WebhookHeaders()
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let gate: Fed
        switch await intake.admit(endpoint: endpoint, headers: headers) {
        case .refuse(let answer): return response(answer)
        case .admit(let admitted): gate = Fed(admitted)
        }
        let tooLarge = json(["error": "body over \(maxWebhookBytes >> 20) MiB"], status: .contentTooLarge)
        let declared = request.headers[.contentLength].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        if let declared, declared > maxWebhookBytes { return tooLarge }
        let busy = Response(status: .serviceUnavailable, headers: [.contentType: "application/json", .retryAfter: "5"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"error":"too many webhook bodies at once; redeliver it in a few seconds"}"#)))
        // A large body (or one of unknown length) takes a place among the large bodies being read,
        // given back once it is read (not when it is stored): each has the server's own buffers in
        // flight beside what the budget counts. A small one cannot have more in flight than itself.
        let large = declared.map { $0 > Self.smallWebhookBytes } ?? true
        if large { guard budget.enter() else { return busy } }
        // Bytes count against the budget as they arrive, never before: a sender that declares a
        // large body and sends nothing holds nothing, and is cut off at the read deadline.
        let held = Held(budget)
        defer { held.releaseAll() }
        // A large body must arrive within the deadline: a sender that trickles one holds a place
        // and budget. A small one is read in this task, with no timer.
        let read = await BodyRead.run(request.body, declared: declared, within: large ? bodyReadDeadline : nil) { chunk, size throws(BodyRead.Stop) in
            guard size + chunk.readableBytes <= maxWebhookBytes else { throw .tooLarge }
            guard held.take(chunk.readableBytes) else { throw .busy }
            gate.update(chunk)
        }
        if large { budget.leave() }
        switch read {
        case .stopped(.tooLarge): return tooLarge
        case .stopped(.busy): return busy
        case .stopped(.timedOut):
            return json(["error": "the body did not arrive within \(bodyReadDeadline); send it at once"], status: .requestTimeout)
        case .failed(let error):
            throw error
        case .read(let body):
            return response(try await intake.receive(gate.value, headers: headers, body: Data(buffer: body, byteTransferStrategy: .noCopy)))
        }
    }

    static func response(_ answer: WebhookIntake.Answer) -> Response {
        switch answer {
        case .accepted(let receipt): json(receipt, status: .accepted)
        case .unauthorized(let message): json(["error": message], status: .unauthorized)
        case .badRequest(let message): json(["error": message], status: .badRequest)
        case .unavailable(let message): json(["error": message], status: .serviceUnavailable)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONEncoder.slipway.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
