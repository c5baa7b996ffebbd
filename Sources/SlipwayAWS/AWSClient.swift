import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Calls AWS JSON 1.1 APIs (ECS, ECR, CloudWatch Logs): signed with SigV4, retried on
/// throttling and 5xx with exponential backoff and jitter, errors turned into what to do.
public struct AWSClient: Sendable {
    let http: HTTPClient
    let credentials: @Sendable () async throws -> SigV4.Credentials
    public let region: String
    let environment: [String: String]
    let maxAttempts: Int
    let now: @Sendable () -> Date
    /// false for the few calls that carry their own proof (AssumeRoleWithWebIdentity).
    let sign: Bool

    public init(http: HTTPClient = .shared, region: String, environment: [String: String],
                maxAttempts: Int = 5, sign: Bool = true, now: @escaping @Sendable () -> Date = { Date() },
                credentials: @escaping @Sendable () async throws -> SigV4.Credentials) {
        self.sign = sign
        self.http = http
        self.region = region
        self.environment = environment
        self.maxAttempts = maxAttempts
        self.now = now
        self.credentials = credentials
    }

    /// The same client for another region (an ECR registry in a region other than the default).
    public func inRegion(_ other: String) -> AWSClient {
        AWSClient(http: http, region: other, environment: environment, maxAttempts: maxAttempts, sign: sign, now: now,
                  credentials: credentials)
    }

    static func targetPrefix(_ service: AWSEndpoint.Service) -> String {
        switch service {
        case .ecs: "AmazonEC2ContainerServiceV20141113"
        case .ecr: "AmazonEC2ContainerRegistry_V20150921"
        case .logs: "Logs_20140328"
        case .sts: "AWSSecurityTokenServiceV20110615"
        case .ec2: "AmazonEC2"
        case .elbv2: "ElasticLoadBalancing_v10"
        }
    }

    /// A Query-protocol call (STS, EC2, IAM): form parameters in, XML out.
    public func query(_ service: AWSEndpoint.Service, _ action: String, version: String, parameters: [String: String] = [:]) async throws -> String {
        var all = parameters
        all["Action"] = action
        all["Version"] = version
        let form = all.sorted { $0.key < $1.key }.map { "\(SigV4.encode($0.key, keepSlash: false))=\(SigV4.encode($0.value, keepSlash: false))" }
            .joined(separator: "&")
        let data = try await send(service, action: action, contentType: "application/x-www-form-urlencoded; charset=utf-8",
                                  target: nil, body: Data(form.utf8))
        return String(decoding: data, as: UTF8.self)
    }

    /// `action` is the API name (`ListClusters`); `body` the JSON request. Returns the JSON answer.
    public func call(_ service: AWSEndpoint.Service, _ action: String, body: Data = Data("{}".utf8)) async throws -> Data {
        try await send(service, action: action, contentType: "application/x-amz-json-1.1",
                       target: "\(Self.targetPrefix(service)).\(action)", body: body)
    }

    func send(_ service: AWSEndpoint.Service, action: String, contentType: String, target: String?, body: Data) async throws -> Data {
        let endpoint = AWSEndpoint.url(service, region: region, environment: environment)
        guard let url = URL(string: endpoint), let host = url.host else {
            throw AWSError(status: 0, code: "BadEndpoint", message: "\(endpoint) is not a URL; fix AWS_ENDPOINT_URL", action: action)
        }
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        var attempt = 0
        while true {
            attempt += 1
            var headers: [(name: String, value: String)] = [("Host", hostHeader), ("Content-Type", contentType)]
            if let target { headers.append(("X-Amz-Target", target)) }
            var request = HTTPClientRequest(url: endpoint)
            request.method = .POST
            var all = headers
            if sign {
                let signed = SigV4.sign(SigV4.Request(method: "POST", path: url.path.isEmpty ? "/" : url.path, headers: headers, body: Array(body)),
                                        credentials: try await credentials(), region: region, service: service.signingName, date: now())
                all += signed.headers
            }
            for (name, value) in all where name != "Host" { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(data: body))
            let (status, data): (Int, Data)
            do {
                let response = try await http.execute(request, timeout: .seconds(30))
                status = Int(response.status.code)
                data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
            } catch {
                guard attempt < maxAttempts else {
                    throw AWSError(status: 0, code: "Unreachable", message: "\(endpoint) did not answer (\(error))", action: action)
                }
                try await Task.sleep(for: Self.backoff(attempt: attempt))
                continue
            }
            if (200..<300).contains(status) { return data }
            var error = AWSError.parse(status: status, body: data, action: action)
            error.iamAction = "\(service.iamPrefix):\(action)"
            guard error.isRetryable, attempt < maxAttempts else { throw error }
            try await Task.sleep(for: Self.backoff(attempt: attempt))
        }
    }

    /// Full jitter over an exponential cap: 100 ms, 200 ms, 400 ms … at most 5 s.
    static func backoff(attempt: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let cap = min(5_000.0, 100.0 * pow(2.0, Double(attempt - 1)))
        return .milliseconds(Int64(cap * random))
    }
}

/// An AWS API error with what to do about it.
public struct AWSError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var action: String
    /// The IAM action the call needs (`ecs:UpdateService`), named when permission is missing.
    public var iamAction: String?

    public init(status: Int, code: String, message: String, action: String, iamAction: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.action = action
        self.iamAction = iamAction
    }

    static let throttling: Set<String> = ["Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
                                           "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"]

    public var isRetryable: Bool { status >= 500 || status == 429 || Self.throttling.contains(code) }

    public var description: String {
        var text = "\(action): \(code) (\(status)): \(message)"
        switch code {
        case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
            text += "; the credentials in use lack permission for this call: allow \(iamAction ?? action) in their IAM policy (see the README's IAM section)"
        case "InvalidClientTokenId", "UnrecognizedClientException":
            text += "; the access key is not known: check AWS_ACCESS_KEY_ID or the profile"
        case "SignatureDoesNotMatch", "InvalidSignatureException":
            text += "; the secret key does not match the access key: check AWS_SECRET_ACCESS_KEY or the profile"
        case "ExpiredToken", "ExpiredTokenException":
            text += "; the session token expired: renew the credentials"
        default: break
        }
        return text
    }

    /// JSON (`{"__type": "…#Code", "message": "…"}`) or XML (`<Code>…</Code><Message>…</Message>`) error bodies.
    static func parse(status: Int, body: Data, action: String) -> AWSError {
        if let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] {
            let type = (json["__type"] as? String) ?? (json["code"] as? String) ?? "HTTP\(status)"
            let code = String(type.split(separator: "#").last ?? Substring(type))
            let message = (json["message"] as? String) ?? (json["Message"] as? String) ?? ""
            return AWSError(status: status, code: code, message: message, action: action)
        }
        let text = String(decoding: body, as: UTF8.self)
        return AWSError(status: status, code: XMLText.first("Code", in: text) ?? "HTTP\(status)",
                        message: XMLText.first("Message", in: text) ?? String(text.prefix(200)), action: action)
    }
}

/// The text of the first `<name>…</name>` element: all Slipway reads of the Query APIs' XML.
public enum XMLText {
    /// The inner text of each `<member>` directly inside the first `<container>` element
    /// (nested members, such as a rule's conditions, stay inside their parent's text).
    public static func members(of container: String, in xml: String) -> [String] {
        guard let list = first(container, in: xml) else { return [] }
        var out: [String] = []
        var depth = 0
        var start: String.Index?
        var index = list.startIndex
        while let tag = list.range(of: "<", range: index..<list.endIndex) {
            if list[tag.lowerBound...].hasPrefix("<member>") {
                if depth == 0 { start = list.index(tag.lowerBound, offsetBy: 8) }
                depth += 1
                index = list.index(tag.lowerBound, offsetBy: 8)
            } else if list[tag.lowerBound...].hasPrefix("</member>") {
                depth -= 1
                if depth == 0, let from = start { out.append(String(list[from..<tag.lowerBound])) }
                index = list.index(tag.lowerBound, offsetBy: 9)
            } else {
                index = tag.upperBound
            }
        }
        return out
    }

    /// Every `<name>…</name>` text, in order.
    public static func all(_ name: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = xml[...]
        while let start = rest.range(of: "<\(name)>"), let end = rest.range(of: "</\(name)>", range: start.upperBound..<rest.endIndex) {
            out.append(String(rest[start.upperBound..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        return out
    }

    public static func first(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
    }
}
