import Foundation
import Hummingbird
import NIOCore
import SlipwayApp
import SlipwayCore

/// `/api/v1`: services (and their previews), deployments (cancel, logs, the live stream), plan, policy sets.
/// Each route reads its parameters and calls one use case.
enum APIRoutes {
    static func collection(_ operations: Operations) -> RouteCollection<SlipwayRequestContext> {
        let routes = RouteCollection(context: SlipwayRequestContext.self)
        routes.get("services") { _, _ in
            Responses.json(try await operations.status())
        }
        routes.get("services/:name") { _, context in
            Responses.json(try await operations.status(service: try context.parameters.require("name")))
        }
        routes.get("services/:name/previews") { _, context in
            Responses.json(try await operations.previews(service: try context.parameters.require("name")))
        }
        routes.post("deployments/:id/cancel") { _, context in
            let id = try context.parameters.require("id", as: Int64.self)
            let (queued, running) = try await operations.cancel(deploymentID: id)
            return Responses.json(["deployment": "\(id)", "state": running.isEmpty ? "cancelled" : "stopping",
                                   "queuedJobsEnded": "\(queued.count)", "runningJobsAsked": "\(running.count)"], status: .accepted)
        }
        routes.get("deployments/:id/logs") { _, context in
            let lines = try await operations.logs(try context.parameters.require("id", as: Int64.self))
            return Responses.json(lines.map { ["stream": $0.stream, "line": $0.line, "at": ISO8601.format($0.at)] })
        }
        // Server-sent events: the deployment as it happens, until it ends.
        routes.get("deployments/:id/stream") { _, context in
            let follower = try await operations.follow(try context.parameters.require("id", as: Int64.self))
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                            body: ResponseBody { writer in
                                try await DeploymentStream(follower: follower).run { try await writer.write(ByteBuffer(string: $0)) }
                                try await writer.finish(nil)
                            })
        }
        routes.get("plan") { request, _ in
            Responses.json(try await operations.plan(service: request.uri.queryParameters.get("service")).services)
        }
        routes.get("policies") { _, _ in
            Responses.json(try await operations.policySets(limit: 20))
        }
        return routes
    }
}

/// `/health` (the process answers), `/ready` (and its database does), `/metrics`.
enum HealthRoutes {
    static func collection(_ operations: Operations) -> RouteCollection<SlipwayRequestContext> {
        let routes = RouteCollection(context: SlipwayRequestContext.self)
        routes.get("health") { _, _ in "ok\n" }
        routes.get("ready") { _, _ -> Response in
            let ready = await operations.ready()
            return Response(status: ready ? .ok : .serviceUnavailable,
                            body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "database unreachable\n")))
        }
        routes.get("metrics") { _, _ -> Response in
            let counts = try await operations.metricCounts()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: Metrics.render(jobs: counts.jobs, deployments: counts.deployments))))
        }
        return routes
    }
}
