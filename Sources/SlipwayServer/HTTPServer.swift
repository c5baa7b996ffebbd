import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import SlipwayApp
import SlipwayCore
import SlipwayStore
import SlipwayTelemetry
import SlipwayWebhooks

/// The HTTP face of Slipway: webhooks, health, and the JSON API. Routes map requests onto
/// the use cases (`Operations`); they decide nothing.
public enum HTTPServer {
    /// Webhook bodies above this are refused with 413 (GitHub caps its payloads at 25 MB).
    public static let maxWebhookBytes = 25 << 20

    /// A body up to this size is read without taking one of the budget's places for large ones
    /// (pushes are a few KiB; GitHub's largest, with 2,048 commits, are a few MiB).
    static let smallWebhookBytes = 256 << 10

    /// Webhook bodies held at once when nothing else is said (SLIPWAY_WEBHOOK_MAX_INFLIGHT_MB).
    public static let defaultInflightBytes = 128 << 20

    /// Every route: health, webhooks, and the API over the use cases.
    /// `bodyReadDeadline`: how long a webhook's body may take to arrive (providers send it at once).
    public static func router(operations: Operations, intake: WebhookIntake, budget: BodyBudget = BodyBudget(limit: defaultInflightBytes),
                              bodyReadDeadline: Duration = .seconds(30), metricsNeedToken: Bool = false) -> Router<SlipwayRequestContext> {
        let router = Router(context: SlipwayRequestContext.self)
        router.add(middleware: RefusalMiddleware())
        router.addRoutes(HealthRoutes.collection(operations, metricsToken: metricsNeedToken))
        router.addRoutes(webhookRoutes(intake: intake, budget: budget, deadline: bodyReadDeadline, telemetry: operations.telemetry), atPath: "/webhooks")
        router.addRoutes(APIRoutes.collection(operations), atPath: "/api/v1")
        router.addRoutes(DashboardRoutes.collection(operations))
        return router
    }

    /// The HTTP service of an assembled system: its use cases, and a webhook intake that wakes
    /// its workers and its policy watcher.
    public static func application(_ assembly: Assembly) -> some ApplicationProtocol {
        let config = assembly.config, workQueued = assembly.workQueued
        let intake = WebhookIntake(store: assembly.store, secrets: config.webhookSecrets, secretReader: assembly.secrets,
                                   logger: assembly.logger, onQueued: { workQueued.signal() },
                                   onEvents: { assembly.eventsArrived($0) }, clock: assembly.clock)
        return Application(
            router: router(operations: assembly.operations, intake: intake, budget: BodyBudget(limit: config.webhookInflightBytes),
                           metricsNeedToken: config.metricsNeedToken),
            // A connection left idle is closed: a client cannot hold one (or a webhook's budget) open for nothing.
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: .init(address: .hostname(config.httpHost, port: config.httpPort), serverName: "slipway"),
            logger: assembly.logger)
    }

    static func webhookRoutes(intake: WebhookIntake, budget: BodyBudget, deadline: Duration, telemetry: Telemetry) -> RouteCollection<SlipwayRequestContext> {
        let routes = RouteCollection(context: SlipwayRequestContext.self)
        for endpoint in WebhookIntake.Endpoint.allCases {
            routes.post(RouterPath(endpoint.rawValue)) { request, context in
                let received = ContinuousClock.now
                let (response, outcome) = try await webhook(endpoint, request: request, context: context, intake: intake, budget: budget,
                                                            deadline: deadline)
                telemetry.count(MetricCatalog.webhooks, [endpoint.rawValue, outcome.rawValue])
                if outcome == .accepted || outcome == .duplicate {
                    let elapsed = (ContinuousClock.now - received).components
                    telemetry.observe(MetricCatalog.webhookDurable, [endpoint.rawValue],
                                      seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
                }
                return response
            }
        }
        return routes
    }

    /// A webhook: refused from its headers when it cannot pass (no body is read), else its
    /// body is read into the signature check as it arrives, within the size limit and the
    /// budget all requests share, and handed to the intake.
    static func webhook(_ endpoint: WebhookIntake.Endpoint, request: Request, context: SlipwayRequestContext,
                        intake: WebhookIntake, budget: BodyBudget, deadline bodyReadDeadline: Duration) async throws -> (Response, WebhookOutcome) {
        var headers = WebhookHeaders()
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let gate: Fed
        switch await intake.admit(endpoint: endpoint, headers: headers) {
        case .refuse(let answer): return (response(answer), outcome(answer))
        case .admit(let admitted): gate = Fed(admitted)
        }
        let tooLarge = Responses.error("body over \(maxWebhookBytes >> 20) MiB", status: .contentTooLarge)
        let declared = request.headers[.contentLength].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        if let declared, declared > maxWebhookBytes { return (tooLarge, .badRequest) }
        let busy = Response(status: .serviceUnavailable, headers: [.contentType: "application/json", .retryAfter: "5"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"error":"too many webhook bodies at once; redeliver it in a few seconds"}"#)))
        // A large body (or one of unknown length) takes a place among the large bodies being read,
        // given back once it is read (not when it is stored): each has the server's own buffers in
        // flight beside what the budget counts. A small one cannot have more in flight than itself.
        let large = declared.map { $0 > Self.smallWebhookBytes } ?? true
        if large { guard budget.enter() else { return (busy, .unavailable) } }
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
        case .stopped(.tooLarge): return (tooLarge, .badRequest)
        case .stopped(.busy): return (busy, .unavailable)
        case .stopped(.timedOut):
            return (Responses.error("the body did not arrive within \(bodyReadDeadline); send it at once", status: .requestTimeout), .badRequest)
        case .failed(let error):
            throw error
        case .read(let body):
            let answer = try await intake.receive(gate.value, headers: headers, body: Data(buffer: body, byteTransferStrategy: .noCopy))
            return (response(answer), outcome(answer))
        }
    }

    /// The `outcome` label of `slipway_webhooks_total`.
    static func outcome(_ answer: WebhookIntake.Answer) -> WebhookOutcome {
        switch answer {
        case .accepted(let receipt): receipt.duplicate ? .duplicate : .accepted
        case .unauthorized: .unauthorized
        case .badRequest: .badRequest
        case .unavailable: .unavailable
        }
    }

    static func response(_ answer: WebhookIntake.Answer) -> Response {
        switch answer {
        case .accepted(let receipt): Responses.json(receipt, status: .accepted)
        case .unauthorized(let message): Responses.error(message, status: .unauthorized)
        case .badRequest(let message): Responses.error(message, status: .badRequest)
        case .unavailable(let message): Responses.error(message, status: .serviceUnavailable)
        }
    }

}
