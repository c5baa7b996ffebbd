import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayApp
import SlipwayCore
import SlipwayStore

/// The dashboard at `/`: sign in with an API token (exchanged for an HttpOnly, SameSite=Strict
/// session cookie), then services, a service's history with timelines, a deployment with its log
/// streaming live, the plan; deploy, roll back and cancel as forms, each with the session's CSRF
/// secret and each refused for roles that may not (the buttons are not shown to them either).
enum DashboardRoutes {
    static let sessionCookie = "slipway_session"
    static let loginCookie = "slipway_login"

    static func collection(_ operations: Operations) -> RouteCollection<SlipwayRequestContext> {
        let routes = RouteCollection(context: SlipwayRequestContext.self)
        routes.get("ui/app.js") { _, _ in asset(Assets.script, type: "text/javascript; charset=utf-8") }
        routes.get("ui/style.css") { _, _ in asset(Assets.style, type: "text/css; charset=utf-8") }

        routes.get("login") { _, _ in
            let csrf = Operations.randomText(24)
            var response = html(Pages.login(csrf: csrf, error: nil))
            response.headers[.setCookie] = cookie(loginCookie, csrf, maxAge: 600)
            return response
        }
        routes.post("login") { request, _ in
            let form = try await Form.read(request)
            guard let expected = cookies(request)[loginCookie], let given = form["csrf"], same(expected, given) else {
                return html(Pages.login(csrf: Operations.randomText(24), error: "The sign-in form expired; try again."), status: .forbidden)
            }
            do {
                let (session, _, _) = try await operations.signIn(token: (form["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
                var response = redirect("/")
                response.headers[.setCookie] = cookie(sessionCookie, session, maxAge: 12 * 3600, secure: secure(request))
                return response
            } catch is APIRefusal {
                let csrf = Operations.randomText(24)
                var response = html(Pages.login(csrf: csrf, error: "Token rejected: check it, or ask an admin for a new one."), status: .unauthorized)
                response.headers[.setCookie] = cookie(loginCookie, csrf, maxAge: 600)
                return response
            }
        }
        routes.post("logout") { request, _ in
            let form = try await Form.read(request)
            if let cookie = cookies(request)[sessionCookie], let (_, csrf) = try await operations.session(cookie), same(csrf, form["csrf"] ?? "") {
                try await operations.signOut(cookie)
            }
            var response = redirect("/login")
            response.headers[.setCookie] = cookie(sessionCookie, "", maxAge: 0)
            return response
        }

        routes.get("/") { request, _ in
            try await page(request, operations) { caller, csrf in
                let statuses = try await operations.status(deployments: 1)
                var drift: [String: String] = [:]
                if let plan = try? await operations.plan() {
                    for service in plan.services { drift[service.service] = service.status.rawValue }
                }
                return html(Pages.services(statuses, drift: drift, caller: caller, csrf: csrf))
            }
        }
        routes.get("services/:name") { request, context in
            try await page(request, operations) { caller, csrf in
                let name = try context.parameters.require("name")
                guard let status = try await operations.status(service: name, deployments: 20).first else { throw Operations.Refused(.notFound, "no service \(name)") }
                let timelines = try await operations.timelines(status.deployments.prefix(10).map(\.id))
                return html(Pages.service(status, timelines: timelines, caller: caller, csrf: csrf))
            }
        }
        routes.get("deployments/:id") { request, context in
            try await page(request, operations) { caller, csrf in
                guard let id = Int64(try context.parameters.require("id")) else { throw Operations.Refused(.invalid, "not a deployment id") }
                return html(Pages.deployment(try await operations.deploymentView(id), caller: caller, csrf: csrf))
            }
        }
        routes.get("plan") { request, _ in
            try await page(request, operations) { caller, csrf in html(Pages.plan(try await operations.plan().services, caller: caller, csrf: csrf)) }
        }
        routes.get("ui/deployments/:id/stream") { request, context in
            guard let cookie = cookies(request)[sessionCookie], try await operations.session(cookie) != nil else {
                return Responses.error("sign in first", hint: "the dashboard's session ended", status: .unauthorized)
            }
            guard let id = Int64(try context.parameters.require("id")) else { throw Operations.Refused(.invalid, "not a deployment id") }
            let watch = try await operations.watch(id)
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                            body: ResponseBody { writer in
                                try await DeploymentStream(watch: watch).run { try await writer.write(ByteBuffer(string: $0)) }
                                try await writer.finish(nil)
                            })
        }

        routes.post("services/:name/deploy") { request, context in
            try await action(request, operations, .deploy) { caller, form in
                let name = try context.parameters.require("name")
                let sha = form["sha"].flatMap { $0.isEmpty ? nil : $0 }
                return redirect("/deployments/\(try await operations.deploy(service: name, sha: sha, image: nil, by: caller.name))")
            }
        }
        routes.post("services/:name/rollback") { request, context in
            try await action(request, operations, .rollback) { caller, _ in
                let (id, _) = try await operations.rollback(service: try context.parameters.require("name"), to: nil, by: caller.name)
                return redirect("/deployments/\(id)")
            }
        }
        routes.post("deployments/:id/cancel") { request, context in
            try await action(request, operations, .cancel) { caller, _ in
                guard let id = Int64(try context.parameters.require("id")) else { throw Operations.Refused(.invalid, "not a deployment id") }
                _ = try await operations.cancel(deploymentID: id, by: caller.name)
                return redirect("/deployments/\(id)")
            }
        }
        return routes
    }

    /// A page for a signed-in caller; the sign-in page otherwise.
    static func page(_ request: Request, _ operations: Operations,
                     _ render: (APICaller, String) async throws -> Response) async throws -> Response {
        guard let cookie = cookies(request)[sessionCookie], let (caller, csrf) = try await operations.session(cookie) else { return redirect("/login") }
        do { return try await render(caller, csrf) } catch let refused as Operations.Refused {
            return html(Pages.error(refused.message, hint: refused.hint, caller: caller, csrf: csrf), status: refused.kind == .notFound ? .notFound : .badRequest)
        }
    }

    /// A form that changes something: signed in, the session's CSRF secret, a role that may.
    static func action(_ request: Request, _ operations: Operations, _ what: APIAction,
                       _ act: (APICaller, [String: String]) async throws -> Response) async throws -> Response {
        let form = try await Form.read(request)
        guard let cookie = cookies(request)[sessionCookie], let (caller, csrf) = try await operations.session(cookie) else { return redirect("/login") }
        guard same(csrf, form["csrf"] ?? "") else {
            return html(Pages.error("The form's security token does not match this session.", hint: "Reload the page and try again.", caller: caller, csrf: csrf), status: .forbidden)
        }
        guard caller.role.may(what) else {
            let refusal = APIRefusal.forbidden(caller.role, what)
            return html(Pages.error(refusal.message, hint: refusal.hint, caller: caller, csrf: csrf), status: .forbidden)
        }
        do { return try await act(caller, form) } catch let refused as Operations.Refused {
            return html(Pages.error(refused.message, hint: refused.hint, caller: caller, csrf: csrf), status: refused.kind == .notFound ? .notFound : .conflict)
        }
    }

    static func same(_ a: String, _ b: String) -> Bool { APITokenText.constantTimeEqual(Array(a.utf8), Array(b.utf8)) }

    static func cookies(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
            }
        }
        return out
    }

    static func cookie(_ name: String, _ value: String, maxAge: Int, secure: Bool = false) -> String {
        "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (secure ? "; Secure" : "")
    }

    /// Behind a TLS-terminating proxy the cookie is marked Secure, so a browser never sends it in clear.
    static func secure(_ request: Request) -> Bool {
        request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300", HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }
}

/// An `application/x-www-form-urlencoded` body of at most 16 KiB.
enum Form {
    static func read(_ request: Request) async throws -> [String: String] {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: 16 << 10) } catch { throw Operations.Refused(.invalid, "the form is over 16 KiB") }
        var out: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let key = parts.first, !key.isEmpty { out[key] = parts.count > 1 ? parts[1] : "" }
        }
        return out
    }
}
