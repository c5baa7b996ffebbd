import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// Credentials with their expiry (nil: long-term keys).
public struct ExpiringCredentials: Sendable, Hashable {
    public var credentials: SigV4.Credentials
    public var expiration: Date?
}

/// Hands out credentials from the resolved source, fetching temporary ones (container
/// endpoint, instance metadata, web identity) and fetching again five minutes before
/// they expire. Two callers that find them stale at the same moment may both fetch
/// (harmless: the answers are equivalent; the later one is kept).
public final class CredentialProvider: Sendable {
    let source: CredentialSource
    let region: String?
    let environment: [String: String]
    let http: HTTPClient
    let readFile: @Sendable (String) -> String?
    let now: @Sendable () -> Date
    let imdsEndpoint: String
    private let cached = Mutex<ExpiringCredentials?>(nil)

    public static let refreshMargin: TimeInterval = 300

    public init(settings: AWSSettings, environment: [String: String], http: HTTPClient = .shared,
                imdsEndpoint: String = "http://169.254.169.254",
                readFile: @escaping @Sendable (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) },
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.source = settings.credentials
        self.region = settings.region
        self.environment = environment
        self.http = http
        self.imdsEndpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? imdsEndpoint
        self.readFile = readFile
        self.now = now
    }

    public func credentials() async throws -> SigV4.Credentials {
        if let current = cached.withLock({ $0 }), current.expiration.map({ $0.timeIntervalSince(now()) > Self.refreshMargin }) ?? true {
            return current.credentials
        }
        let fresh = try await fetch()
        cached.withLock { $0 = fresh }
        return fresh.credentials
    }

    func fetch() async throws -> ExpiringCredentials {
        switch source {
        case .environment(let credentials), .profile(_, let credentials):
            return ExpiringCredentials(credentials: credentials, expiration: nil)
        case .container(let url, let authorization, let authorizationFile):
            var request = HTTPClientRequest(url: url)
            if let token = authorization ?? authorizationFile.flatMap(readFile)?.trimmingCharacters(in: .whitespacesAndNewlines) {
                request.headers.add(name: "Authorization", value: token)
            }
            return try Self.decodeJSON(try await get(request, what: "the container credentials endpoint \(url)"))
        case .instanceMetadata:
            var tokenRequest = HTTPClientRequest(url: "\(imdsEndpoint)/latest/api/token")
            tokenRequest.method = .PUT
            tokenRequest.headers.add(name: "X-aws-ec2-metadata-token-ttl-seconds", value: "21600")
            let token = String(decoding: try await get(tokenRequest, what: "instance metadata (IMDSv2 token)"), as: UTF8.self)
            var roleRequest = HTTPClientRequest(url: "\(imdsEndpoint)/latest/meta-data/iam/security-credentials/")
            roleRequest.headers.add(name: "X-aws-ec2-metadata-token", value: token)
            let role = String(decoding: try await get(roleRequest, what: "instance metadata (role name)"), as: UTF8.self)
                .split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            guard !role.isEmpty else { throw AWSSettings.Problem(description: "the instance has no IAM role; attach an instance profile or set credentials") }
            var credentialsRequest = HTTPClientRequest(url: "\(imdsEndpoint)/latest/meta-data/iam/security-credentials/\(role)")
            credentialsRequest.headers.add(name: "X-aws-ec2-metadata-token", value: token)
            return try Self.decodeJSON(try await get(credentialsRequest, what: "instance metadata (credentials)"))
        case .webIdentity(let tokenFile, let role, let session):
            guard let token = readFile(tokenFile)?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
                throw AWSSettings.Problem(description: "AWS_WEB_IDENTITY_TOKEN_FILE \(tokenFile) cannot be read")
            }
            // AssumeRoleWithWebIdentity is not signed: the token is the proof.
            let client = AWSClient(http: http, region: region ?? "us-east-1", environment: environment, sign: false) {
                SigV4.Credentials(accessKeyID: "", secretAccessKey: "")
            }
            let xml = try await client.query(.sts, "AssumeRoleWithWebIdentity", version: "2011-06-15",
                                             parameters: ["RoleArn": role, "RoleSessionName": session, "WebIdentityToken": token])
            return try Self.decodeSTS(xml)
        }
    }

    func get(_ request: HTTPClientRequest, what: String) async throws -> Data {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(5))
        } catch {
            throw AWSSettings.Problem(description: "\(what) did not answer (\(error)); set AWS credentials another way")
        }
        let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .ok else {
            throw AWSSettings.Problem(description: "\(what) answered \(response.status.code): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        return data
    }

    /// The container endpoint's and IMDS's JSON: AccessKeyId, SecretAccessKey, Token, Expiration.
    static func decodeJSON(_ data: Data) throws -> ExpiringCredentials {
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let key = json["AccessKeyId"] as? String, let secret = json["SecretAccessKey"] as? String else {
            throw AWSSettings.Problem(description: "the credentials answer has no AccessKeyId/SecretAccessKey")
        }
        let expiration = (json["Expiration"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }
        return ExpiringCredentials(credentials: .init(accessKeyID: key, secretAccessKey: secret, sessionToken: json["Token"] as? String),
                                   expiration: expiration)
    }

    /// STS's XML answer.
    static func decodeSTS(_ xml: String) throws -> ExpiringCredentials {
        func tag(_ name: String) -> String? { XMLText.first(name, in: xml) }
        guard let key = tag("AccessKeyId"), let secret = tag("SecretAccessKey") else {
            throw AWSSettings.Problem(description: "STS answered without credentials: \(xml.prefix(200))")
        }
        let expiration = tag("Expiration").flatMap { text in
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
        }
        return ExpiringCredentials(credentials: .init(accessKeyID: key, secretAccessKey: secret, sessionToken: tag("SessionToken")),
                                   expiration: expiration)
    }
}
