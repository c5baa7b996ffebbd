import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayApp
import SlipwayCore
import SlipwayStore

/// `/api/v1`: every route needs a bearer token whose role may do what the route does (the
/// table below is the one place that says so). Each route reads its parameters and calls one use case.
enum APIRoutes {
    struct Route: Sendable, Hashable {
        var method: HTTPRequest.Method
        var path: String
        var action: APIAction
    }

    /// Every API route and what it needs: the role checks and the OpenAPI test read this.
    static let table: [Route] = [
        Route(method: .get, path: "services", action: .read),
        Route(method: .get, path: "services/:name", action: .read),
        Route(method: .get, path: "services/:name/previews", action: .read),
        Route(method: .post, path: "services/:name/deploy", action: .deploy),
        Route(method: .post, path: "services/:name/rollback", action: .rollback),
        Route(method: .delete, path: "services/:name/previews/:number", action: .destroyPreview),
        Route(method: .get, path: "deployments", action: .read),
        Route(method: .get, path: "deployments/:id", action: .read),
        Route(method: .post, path: "deployments/:id/cancel", action: .cancel),
        Route(method: .get, path: "deployments/:id/logs", action: .read),
        Route(method: .get, path: "deployments/:id/stream", action: .read),
        Route(method: .get, path: "previews", action: .read),
        Route(method: .get, path: "plan", action: .read),
        Route(method: .get, path: "policies", action: .read),
        Route(method: .get, path: "tokens", action: .manageTokens),
        Route(method: .post, path: "tokens", action: .manageTokens),
        Route(method: .delete, path: "tokens/:name", action: .manageTokens),
    ]

    typealias Handler = @Sendable (Request, SlipwayRequestContext, APICaller) async throws -> Response

    static func collection(_ operations: Operations) -> RouteCollection<SlipwayRequestContext> {
        let routes = RouteCollection(context: SlipwayRequestContext.self)
        let handlers = self.handlers(operations)
        for route in table {
            guard let handler = handlers[route] else { preconditionFailure("no handler for \(route.method) \(route.path)") }
            routes.on(RouterPath(route.path), method: route.method) { request, context in
                let caller = try await authorize(request, action: route.action, operations: operations)
                return try await handler(request, context, caller)
            }
        }
        return routes
    }

    /// The caller, when its token is good and its role may do `action`.
    static func authorize(_ request: Request, action: APIAction, operations: Operations) async throws -> APICaller {
        // Any spelling of a token parameter, or a token's text anywhere in the query, is refused before it is read further.
        let query = (request.uri.query ?? "").removingPercentEncoding?.lowercased() ?? (request.uri.query ?? "").lowercased()
        let names = query.split(separator: "&").map { $0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? "" }
        if query.contains("slw_") || names.contains(where: { ["token", "access_token", "api_key", "apikey", "bearer"].contains($0) }) {
            throw APIRefusal.inQuery
        }
        let caller = try await operations.authenticate(authorization: request.headers[.authorization])
        guard caller.role.may(action) else { throw APIRefusal.forbidden(caller.role, action) }
        return caller
    }

    static func handlers(_ operations: Operations) -> [Route: Handler] {
        func route(_ method: HTTPRequest.Method, _ path: String) -> Route {
            table.first { $0.method == method && $0.path == path }!
        }
        return [
            // A page of services by name (100 by default, each with its 3 newest deployments); `Link: …; rel="next"` names the next.
            route(.get, "services"): { request, _, _ in
                let q = request.uri.queryParameters
                let limit = try APIParameters.query(q.get("limit"), "limit") ?? 100
                let deployments = try APIParameters.query(q.get("deployments"), "deployments") ?? 3
                let page = try await operations.status(after: q.get("after"), limit: limit, deployments: deployments,
                                                       timelines: try APIParameters.flag(q.get("timeline"), "timeline"))
                var response = Responses.json(page)
                if page.count == limit, let last = page.last?.service {
                    let next = "/api/v1/services?after=\(last.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? last)&limit=\(limit)&deployments=\(deployments)"
                        + (q.get("timeline").map { "&timeline=\($0)" } ?? "")
                    response.headers[HTTPField.Name("Link")!] = "<\(next)>; rel=\"next\""
                }
                return response
            },
            route(.get, "services/:name"): { request, context, _ in
                let q = request.uri.queryParameters
                return Responses.json(try await operations.status(service: try APIParameters.name(context),
                                                                  deployments: try APIParameters.query(q.get("deployments"), "deployments") ?? 20,
                                                                  timelines: try APIParameters.flag(q.get("timeline"), "timeline")))
            },
            route(.get, "services/:name/previews"): { _, context, _ in
                Responses.json(try await operations.previews(service: try APIParameters.name(context)))
            },
            route(.post, "services/:name/deploy"): { request, context, caller in
                let body = try await JSONBody.read(request, allowed: ["sha", "image"])
                let service = try APIParameters.name(context)
                let id = try await operations.deploy(service: service, sha: try body.string("sha"), image: try body.string("image"), by: caller.name)
                return Responses.json(["deployment": id], status: .accepted)
            },
            route(.post, "services/:name/rollback"): { request, context, caller in
                let body = try await JSONBody.read(request, allowed: ["to"])
                let service = try APIParameters.name(context)
                let (id, target) = try await operations.rollback(service: service, to: try body.int("to"), by: caller.name)
                return Responses.json(RollbackAnswer(deployment: id, to: target.id, sha: target.sha, image: target.image), status: .accepted)
            },
            route(.delete, "services/:name/previews/:number"): { _, context, caller in
                let service = try APIParameters.name(context)
                let number = try APIParameters.int(context, "number")
                try await operations.destroyPreview(service: service, number: number, by: caller.name)
                return Responses.json(["service": service, "number": "\(number)", "state": "closing", "by": caller.name], status: .accepted)
            },
            route(.get, "deployments"): { request, _, _ in
                let q = request.uri.queryParameters
                let limit = try q.get("limit").map { text -> Int in
                    guard let n = Int(text) else { throw Operations.Refused(.invalid, "limit `\(Terminal.printable(text, limit: 20))` is not a number") }
                    return n
                } ?? 50
                let before = try q.get("before").map { text -> Int64 in
                    guard let n = Int64(text) else { throw Operations.Refused(.invalid, "before `\(Terminal.printable(text, limit: 20))` is not a deployment id") }
                    return n
                }
                return Responses.json(try await operations.deployments(service: q.get("service"), environment: q.get("environment"),
                                                                       state: q.get("state"), before: before, limit: limit))
            },
            route(.get, "deployments/:id"): { _, context, _ in
                Responses.json(try await operations.deploymentSummary(try APIParameters.id(context)))
            },
            route(.post, "deployments/:id/cancel"): { request, context, caller in
                _ = try await JSONBody.read(request, allowed: [])
                let id = try APIParameters.id(context)
                let (queued, running) = try await operations.cancel(deploymentID: id, by: caller.name)
                return Responses.json(["deployment": "\(id)", "state": running.isEmpty ? "cancelled" : "stopping",
                                       "queuedJobsEnded": "\(queued.count)", "runningJobsAsked": "\(running.count)"], status: .accepted)
            },
            route(.get, "deployments/:id/logs"): { _, context, _ in
                let lines = try await operations.logs(try APIParameters.id(context))
                return Responses.json(lines.map { ["stream": $0.stream, "line": $0.line, "at": ISO8601.format($0.at)] })
            },
            // Server-sent events: the deployment as it happens, until it ends.
            route(.get, "deployments/:id/stream"): { _, context, _ in
                let watch = try await operations.watch(try APIParameters.id(context))
                return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                                body: ResponseBody { writer in
                                    try await DeploymentStream(watch: watch).run { try await writer.write(ByteBuffer(string: $0)) }
                                    try await writer.finish(nil)
                                })
            },
            route(.get, "previews"): { _, _, _ in Responses.json(try await operations.previews()) },
            // The plan with why drift could not be judged, if it could not (`runtimeProblem`).
            route(.get, "plan"): { request, _, _ in
                Responses.json(try await operations.plan(service: request.uri.queryParameters.get("service")))
            },
            route(.get, "policies"): { request, _, _ in
                let limit = try APIParameters.query(request.uri.queryParameters.get("limit"), "limit") ?? 20
                return Responses.json(try await operations.policySets(limit: limit))
            },
            route(.get, "tokens"): { _, _, _ in Responses.json(try await operations.tokens()) },
            route(.post, "tokens"): { request, _, caller in
                let body = try await JSONBody.read(request, allowed: ["name", "role", "expires"])
                guard let name = try body.string("name") else { throw Operations.Refused(.invalid, "`name` is required") }
                guard let roleText = try body.string("role"), let role = APIRole(rawValue: roleText) else {
                    throw Operations.Refused(.invalid, "`role` must be viewer, deployer or admin")
                }
                let expires = try body.string("expires").map { text -> TimeSpan in
                    guard let span = TimeSpan(parsing: text), span.milliseconds > 0 else {
                        throw Operations.Refused(.invalid, "`expires` `\(Terminal.printable(text, limit: 20))` is not a duration like 90d")
                    }
                    return span
                }
                let token = try await operations.createToken(name: name, role: role, expiresIn: expires, by: caller.name)
                return Responses.json(["name": name, "role": role.rawValue, "token": token, "createdBy": caller.name], status: .created)
            },
            route(.delete, "tokens/:name"): { _, context, caller in
                let name = try APIParameters.name(context)
                try await operations.revokeToken(name: name, by: caller.name)
                return Responses.json(["name": name, "revoked": "true"])
            },
        ]
    }
}

struct RollbackAnswer: Encodable {
    var deployment: Int64
    var to: Int64
    var sha: String?
    var image: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(deployment, forKey: .deployment)
        try c.encode(to, forKey: .to)
        try c.encode(sha, forKey: .sha)
        try c.encode(image, forKey: .image)
    }
    enum CodingKeys: String, CodingKey { case deployment, to, sha, image }
}

/// Path parameters that must be numbers: a clear 400 instead of a generic one.
enum APIParameters {
    /// A `:name` path parameter, percent-decoded (`ada%40acme.com` is `ada@acme.com`).
    static func name(_ context: SlipwayRequestContext) throws -> String {
        let raw = try context.parameters.require("name")
        return raw.removingPercentEncoding ?? raw
    }

    static func id(_ context: SlipwayRequestContext) throws -> Int64 {
        let text = try context.parameters.require("id")
        guard let id = Int64(text), id > 0 else {
            throw Operations.Refused(.invalid, "deployment id `\(Terminal.printable(text, limit: 40))` is not a number; `slipway status` lists them")
        }
        return id
    }

    /// A number from the query string; nil when absent.
    /// `true` or `false` (absent: false).
    static func flag(_ text: String?, _ name: String) throws -> Bool {
        switch text {
        case nil, "false": return false
        case "true": return true
        case let text?: throw Operations.Refused(.invalid, "\(name) `\(Terminal.printable(text, limit: 20))` must be true or false")
        }
    }

    static func query(_ text: String?, _ name: String) throws -> Int? {
        guard let text else { return nil }
        guard let n = Int(text) else { throw Operations.Refused(.invalid, "\(name) `\(Terminal.printable(text, limit: 20))` is not a number") }
        return n
    }

    static func int(_ context: SlipwayRequestContext, _ name: String) throws -> Int {
        let text = try context.parameters.require(name)
        guard let n = Int(text), n > 0 else { throw Operations.Refused(.invalid, "`\(Terminal.printable(text, limit: 40))` is not a \(name)") }
        return n
    }
}

/// A small JSON object body: at most 64 KiB, only the fields a route knows (another is named in the 400).
struct JSONBody {
    static let limit = 64 << 10
    var object: [String: Any]

    static func read(_ request: Request, allowed: Set<String>) async throws -> JSONBody {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limit) } catch {
            throw Operations.Refused(.invalid, "the body is over \(limit / 1024) KiB")
        }
        guard buffer.readableBytes > 0 else { return JSONBody(object: [:]) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
            throw Operations.Refused(.invalid, "the body is not a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Operations.Refused(.invalid, "unknown field `\(Terminal.printable(unknown, limit: 40))`; this route takes \(allowed.sorted().joined(separator: ", "))")
        }
        return JSONBody(object: object)
    }

    func string(_ key: String) throws -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw Operations.Refused(.invalid, "`\(key)` must be a string") }
        return text
    }

    func int(_ key: String) throws -> Int64? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        if let n = value as? Int64 { return n }
        if let n = value as? Int { return Int64(n) }
        throw Operations.Refused(.invalid, "`\(key)` must be a number")
    }
}

/// `/health` (the process answers), `/ready` (and its database does), `/metrics`.
enum HealthRoutes {
    static func collection(_ operations: Operations, metricsToken: Bool = false) -> RouteCollection<SlipwayRequestContext> {
        let routes = RouteCollection(context: SlipwayRequestContext.self)
        routes.get("health") { _, _ in "ok\n" }
        routes.get("ready") { _, _ -> Response in
            let ready = await operations.ready()
            return Response(status: ready ? .ok : .serviceUnavailable,
                            body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "database unreachable\n")))
        }
        routes.get("metrics") { request, _ -> Response in
            if metricsToken { _ = try await APIRoutes.authorize(request, action: .read, operations: operations) }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try await operations.metrics())))
        }
        return routes
    }
}
