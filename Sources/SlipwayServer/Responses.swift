import Foundation
import Hummingbird
import NIOCore
import SlipwayApp
import SlipwayCore

/// How answers are written: JSON in the contracts' encoding, errors as `{"error": …, "hint": …}`.
enum Responses {
    /// Compact JSON (`CompactJSON`): the same values the CLI prints, without the indentation.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let bytes: [UInt8]
        do {
            bytes = try CompactJSON.encode(value)
        } catch {
            // Only a number JSON cannot hold gets here; say so rather than send half a body.
            return Response(status: .internalServerError, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try! CompactJSON.encode(
                                ErrorBody(error: "the answer could not be written as JSON: \(error)", hint: "report this with the request; `slipway status` shows what it changed")))))
        }
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ message: String, hint: String? = nil, status: HTTPResponse.Status) -> Response {
        var response = json(ErrorBody(error: message, hint: hint), status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"slipway\"" }
        return response
    }

    struct ErrorBody: Encodable {
        var error: String
        var hint: String?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(error, forKey: .error)
            try c.encode(hint, forKey: .hint)
        }
        enum CodingKeys: String, CodingKey { case error, hint }
    }
}

/// A use case's refusal becomes its HTTP status and message: the routes only map.
struct RefusalMiddleware: RouterMiddleware {
    typealias Context = SlipwayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let refused as Operations.Refused {
            let status: HTTPResponse.Status = switch refused.kind {
            case .invalid: .badRequest
            case .notFound: .notFound
            case .conflict: .conflict
            }
            return Responses.error(refused.message, hint: refused.hint, status: status)
        } catch let refused as APIRefusal {
            let status: HTTPResponse.Status = switch refused.kind {
            case .unauthenticated: .unauthorized
            case .forbidden: .forbidden
            case .badRequest: .badRequest
            }
            return Responses.error(refused.message, hint: refused.hint, status: status)
        } catch let error as HTTPError where request.uri.path.hasPrefix("/api/") {
            // Hummingbird's own refusals (no such route, wrong method) in the API's shape.
            let message = error.status == .notFound ? "no such route: \(request.method) \(request.uri.path)" : "\(error.status.reasonPhrase)"
            return Responses.error(message, hint: "manifests/openapi.yaml lists every route", status: error.status)
        } catch where request.uri.path.hasPrefix("/api/") && !(error is HTTPError) && !(error is CancellationError) {
            // Never the internals (they may name the database); the server's log has them.
            context.logger.error("API request failed", metadata: ["error": "\(String(reflecting: error))", "http.path": "\(request.uri.path)"])
            return Responses.error("the server failed to answer", hint: "try again; if it persists, the server's log says why", status: .internalServerError)
        }
    }
}
