import Foundation
import Hummingbird
import NIOCore
import SlipwayApp
import SlipwayCore

/// How answers are written: JSON in the contracts' encoding, errors as `{"error": …}`.
enum Responses {
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONEncoder.slipway.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    static func error(_ message: String, status: HTTPResponse.Status) -> Response {
        json(["error": message], status: status)
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
            return Responses.error(refused.message, status: status)
        }
    }
}
