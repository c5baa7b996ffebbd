import Foundation

/// JSON decoding with errors a sender can act on: which field is missing or wrong.
enum PayloadDecoding {
    static func decode<T: Decodable>(_ body: Data, provider: String, event: String) throws(WebhookError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw .malformed("body is not JSON")
        } catch let DecodingError.keyNotFound(key, context) {
            throw .malformed("\(provider) `\(event)` payload has no `\(path(context.codingPath + [key]))`")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let where_ = context.codingPath.isEmpty ? "top level (expected an object)" : "`\(path(context.codingPath))`"
            throw .malformed("\(provider) `\(event)` payload has an unexpected \(where_)")
        } catch {
            throw .malformed("body is not JSON")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    static let zeroSHA = String(repeating: "0", count: 40)

    /// `refs/heads/x` → (branch x), `refs/tags/v1` → (tag v1).
    static func split(ref: String) -> (branch: String?, tag: String?) {
        if ref.hasPrefix("refs/heads/") { return (String(ref.dropFirst("refs/heads/".count)), nil) }
        if ref.hasPrefix("refs/tags/") { return (nil, String(ref.dropFirst("refs/tags/".count))) }
        return (nil, nil)
    }
}
