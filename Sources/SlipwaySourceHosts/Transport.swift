import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SlipwayCore

/// An HTTP exchange with a source host's API, as the reporter needs it.
public struct APICall: Sendable, Hashable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?

    public init(method: String, url: String, headers: [(String, String)], body: Data?) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    public static func == (a: APICall, b: APICall) -> Bool {
        a.method == b.method && a.url == b.url && a.body == b.body && a.headers.map { $0.0 + ":" + $0.1 } == b.headers.map { $0.0 + ":" + $0.1 }
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(url)
    }
}

public struct APIAnswer: Sendable, Hashable {
    public var status: Int
    /// Lowercased names.
    public var headers: [String: String]
    public var body: String
    public init(status: Int, headers: [String: String] = [:], body: String = "") {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Sends calls; throws only when no answer came (refused, timed out).
public protocol APITransport: Sendable {
    func send(_ call: APICall) async throws -> APIAnswer
}

/// The real transport: AsyncHTTPClient, a bounded wait, bodies up to 1 MiB read.
public struct HTTPTransport: APITransport {
    /// A client that never follows redirects, for notifications: a 301 or 302 would turn the
    /// signed POST into a bodiless GET somewhere else. Lives as long as the process.
    public static let noRedirects = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                               configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    let client: HTTPClient
    let timeout: TimeAmount

    public init(client: HTTPClient = .shared, timeout: TimeAmount = .seconds(15)) {
        self.client = client
        self.timeout = timeout
    }

    public struct Unanswered: Error, CustomStringConvertible {
        public var description: String
    }

    public func send(_ call: APICall) async throws -> APIAnswer {
        var request = HTTPClientRequest(url: call.url)
        request.method = HTTPMethod(rawValue: call.method)
        for (name, value) in call.headers { request.headers.add(name: name, value: value) }
        if let body = call.body { request.body = .bytes(ByteBuffer(data: body)) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            // The URL is safe to show (no credentials in it); the error's own text may be long.
            throw Unanswered(description: "no answer from \(Self.origin(call.url)): \(String(describing: error).prefix(200))")
        }
        let buffer = try await response.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return APIAnswer(status: Int(response.status.code), headers: headers, body: String(buffer: buffer))
    }

    static func origin(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        return String(url[..<scheme.upperBound]) + rest.prefix(while: { $0 != "/" })
    }
}

/// How a call proves who it is: a token, or a user and password (Bitbucket's app passwords).
public enum APICredential: Sendable, Hashable, CustomStringConvertible {
    case token(String)
    case basic(user: String, password: String)

    public var description: String {
        switch self {
        case .token: "token"
        case .basic(let user, _): "password of \(user)"
        }
    }

    /// A server-wide setting's value: `user:password` is basic for Bitbucket, a token otherwise.
    public static func setting(_ value: String, provider: CommitStatus.Provider) -> APICredential {
        if provider == .bitbucket || provider == .bitbucketServer, let colon = value.firstIndex(of: ":"), colon != value.startIndex {
            return .basic(user: String(value[..<colon]), password: String(value[value.index(after: colon)...]))
        }
        return .token(value)
    }

    /// A policy's `user:password` credentials, for the API: Bitbucket takes the pair as basic
    /// auth, unless the user is a token's placeholder (`x-token-auth`, `x-access-token`: the
    /// password is an access token); GitHub and GitLab take the password as a token.
    public static func policy(user: String, password: String, provider: CommitStatus.Provider) -> APICredential {
        guard provider == .bitbucket || provider == .bitbucketServer else { return .token(password) }
        return user == "x-token-auth" || user == "x-access-token" ? .token(password) : .basic(user: user, password: password)
    }

    /// The headers each provider reads credentials from.
    public func headers(for provider: CommitStatus.Provider) -> [(String, String)] {
        switch (self, provider) {
        case (.token(let token), .gitlab): return [("PRIVATE-TOKEN", token)]
        case (.token(let token), _): return [("Authorization", "Bearer \(token)")]
        case (.basic(let user, let password), .gitlab): return [("PRIVATE-TOKEN", password), ("X-Slipway-User", user)].filter { $0.0 != "X-Slipway-User" }
        case (.basic(let user, let password), _):
            return [("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())]
        }
    }
}
