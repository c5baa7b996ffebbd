import Crypto
import Foundation

/// AWS Signature Version 4 (header form): canonical request → string to sign → HMAC
/// chain over date, region and service. Pure: the time is a parameter. Passes every case
/// of the official suite (Tests/SlipwayAWSTests).
public enum SigV4 {
    public struct Credentials: Sendable, Hashable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?
        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }
    }

    /// A request as it goes on the wire: `path` and `query` as written (percent-encoded or
    /// not), headers in order (repeats allowed).
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    public static let algorithm = "AWS4-HMAC-SHA256"

    /// `20150830T123600Z`
    public static func amzDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    public struct Signed: Sendable {
        /// Headers to add to the request: `X-Amz-Date`, `X-Amz-Security-Token` (when there is one), `Authorization`.
        public var headers: [(name: String, value: String)]
        public var canonicalRequest: String
        public var stringToSign: String
        public var authorization: String
    }

    /// Signs `request` (which must carry `Host`). The session token is signed as a header,
    /// as the JSON APIs expect.
    public static func sign(_ request: Request, credentials: Credentials, region: String, service: String,
                            date: Date, normalizePath: Bool = true) -> Signed {
        let stamp = amzDate(date)
        var request = request
        var added: [(name: String, value: String)] = []
        if !request.headers.contains(where: { $0.name.lowercased() == "x-amz-date" }) {
            added.append(("X-Amz-Date", stamp))
        }
        if let token = credentials.sessionToken, !request.headers.contains(where: { $0.name.lowercased() == "x-amz-security-token" }) {
            added.append(("X-Amz-Security-Token", token))
        }
        request.headers += added
        let canonical = canonicalRequest(request, normalizePath: normalizePath)
        let scope = "\(stamp.prefix(8))/\(region)/\(service)/aws4_request"
        let toSign = stringToSign(canonicalRequest: canonical.text, date: stamp, scope: scope)
        let key = signingKey(secret: credentials.secretAccessKey, date: String(stamp.prefix(8)), region: region, service: service)
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
        let authorization = "\(algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
        return Signed(headers: added + [("Authorization", authorization)], canonicalRequest: canonical.text,
                      stringToSign: toSign, authorization: authorization)
    }

    public static func canonicalRequest(_ request: Request, normalizePath: Bool = true) -> (text: String, signedHeaders: String) {
        var grouped: [String: [String]] = [:]
        var order: [String] = []
        for (name, value) in request.headers {
            let key = name.lowercased()
            if grouped[key] == nil { order.append(key) }
            grouped[key, default: []].append(trimAll(value))
        }
        let names = order.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let headers = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signed = names.joined(separator: ";")
        let payload = hex(SHA256.hash(data: request.body))
        let text = [request.method, canonicalURI(request.path, normalize: normalizePath), canonicalQuery(request.query),
                    headers, signed, payload].joined(separator: "\n")
        return (text, signed)
    }

    public static func stringToSign(canonicalRequest: String, date: String, scope: String) -> String {
        [algorithm, date, scope, hex(SHA256.hash(data: Data(canonicalRequest.utf8)))].joined(separator: "\n")
    }

    public static func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// Leading and trailing blanks go; runs of blanks inside (line breaks of a folded value too) become one space.
    static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0.isNewline }).joined(separator: " ")
    }

    /// Dot segments removed and empty segments collapsed (not for S3), each segment encoded once.
    static func canonicalURI(_ path: String, normalize: Bool) -> String {
        let decoded = path.removingPercentEncoding ?? path
        guard normalize else { return encode(decoded, keepSlash: true) }
        var segments: [Substring] = []
        for segment in decoded.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        let trailing = decoded.hasSuffix("/") || decoded.hasSuffix("/.") || decoded.hasSuffix("/..")
        var out = "/" + segments.map { encode(String($0), keepSlash: false) }.joined(separator: "/")
        if trailing, !segments.isEmpty { out += "/" }
        return out
    }

    /// Pairs decoded, encoded again, sorted by name then value (bytes).
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).replacingOccurrences(of: "+", with: " ")
            let value = parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ") : ""
            return (encode(name.removingPercentEncoding ?? name, keepSlash: false),
                    encode(value.removingPercentEncoding ?? value, keepSlash: false))
        }
        return pairs.sorted { a, b in
            a.0 == b.0 ? a.1.utf8.lexicographicallyPrecedes(b.1.utf8) : a.0.utf8.lexicographicallyPrecedes(b.0.utf8)
        }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986: unreserved characters stay, everything else is %XX of its UTF-8 bytes.
    public static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(UnicodeScalar(byte))
            if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || c == "-" || c == "." || c == "_" || c == "~" || (keepSlash && c == "/") {
                out.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    public static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
