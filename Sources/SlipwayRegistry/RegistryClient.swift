import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SlipwayCore
import Synchronization

/// What Slipway asks of an image registry: the seam the build's push check and image
/// retention use, with `RegistryClient` the real one and an in-memory one in tests.
public protocol Registry: Sendable {
    /// The digest of `repository:reference` (a tag or a digest); nil when the registry has no such manifest.
    func manifestDigest(host: String, repository: String, reference: String) async throws -> String?
    func tags(host: String, repository: String) async throws -> [String]
    func deleteManifest(host: String, repository: String, digest: String) async throws
    /// The same access, logging in to `host` with `login` (and elsewhere as before).
    func withLogin(_ login: RegistryLogin, at host: String) -> any Registry
}

extension RegistryClient: Registry {
    public func withLogin(_ login: RegistryLogin, at host: String) -> any Registry {
        logging(in: login, at: host)
    }
}

/// The OCI distribution API, as Slipway uses it: does a manifest exist and what is its
/// digest, what tags does a repository have, delete a manifest. Logs in the way the
/// registry asks (`WWW-Authenticate`): basic, or a bearer token fetched from its realm.
public final class RegistryClient: Sendable {
    /// Credentials for a registry host (`127.0.0.1:5000`, `ghcr.io`); nil: anonymous.
    public typealias Credentials = @Sendable (_ host: String) async throws -> RegistryLogin?

    let http: HTTPClient
    let credentials: Credentials
    /// Per call. The HTTP client keeps trying to connect until then, so a registry that is
    /// down costs this long before it is reported.
    let timeout: TimeAmount
    private let tokens = Mutex<[String: String]>([:])

    /// Manifests of every kind Slipway may meet: OCI and Docker, single and multi-platform.
    static let manifestTypes = [
        "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
    ].joined(separator: ", ")

    public init(http: HTTPClient = .shared, timeout: TimeAmount = .seconds(30), credentials: @escaping Credentials = { _ in nil }) {
        self.http = http
        self.timeout = timeout
        self.credentials = credentials
    }

    /// The same client, logging in to `host` with `credentials` (a policy's `imageCredentials`,
    /// for the registry of its image) and to every other host as before: a login is sent only
    /// to the registry it belongs to.
    public func logging(in credentials: RegistryLogin, at host: String) -> RegistryClient {
        let others = self.credentials
        return RegistryClient(http: http, timeout: timeout) { asked in asked == host ? credentials : try await others(asked) }
    }

    /// Loopback and `.localhost` registries speak plain HTTP, as the Docker engine assumes.
    static func scheme(_ host: String) -> String {
        isLoopback(host.split(separator: ":").first.map(String.init) ?? host) ? "http" : "https"
    }

    static func isLoopback(_ name: String) -> Bool {
        name == "127.0.0.1" || name == "localhost" || name.hasSuffix(".localhost") || name == "::1" || name == "[::1]"
    }

    // MARK: The calls

    /// The digest of `repository:reference` (a tag or a digest); nil when the registry has no such manifest.
    public func manifestDigest(host: String, repository: String, reference: String) async throws -> String? {
        let answer = try await send(.HEAD, host: host, path: "/v2/\(repository)/manifests/\(reference)", scope: "repository:\(repository):pull",
                                    headers: [("Accept", Self.manifestTypes)])
        if answer.status == 404 { return nil }
        try answer.check("HEAD manifest \(repository):\(reference)", host: host)
        return answer.headers.first(name: "Docker-Content-Digest")
    }

    /// The manifest itself, with its media type and digest; nil when there is none.
    public func manifest(host: String, repository: String, reference: String) async throws -> (digest: String?, mediaType: String?, body: Data)? {
        let answer = try await send(.GET, host: host, path: "/v2/\(repository)/manifests/\(reference)", scope: "repository:\(repository):pull",
                                    headers: [("Accept", Self.manifestTypes)])
        if answer.status == 404 { return nil }
        try answer.check("GET manifest \(repository):\(reference)", host: host)
        return (answer.headers.first(name: "Docker-Content-Digest"), answer.headers.first(name: "Content-Type"), answer.body)
    }

    /// Every tag of the repository, page by page (`Link: <…?n=100&last=…>; rel="next"`); empty when it does not exist.
    public func tags(host: String, repository: String) async throws -> [String] {
        var out: [String] = []
        var path: String? = "/v2/\(repository)/tags/list?n=100"
        while let next = path {
            let answer = try await send(.GET, host: host, path: next, scope: "repository:\(repository):pull")
            if answer.status == 404 { return out }
            try answer.check("list tags of \(repository)", host: host)
            let object = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any]
            out += object?["tags"] as? [String] ?? []
            path = answer.headers.first(name: "Link").flatMap(Self.nextPage)
        }
        return out
    }

    /// Deletes the manifest `digest` (every tag pointing at it goes with it).
    public func deleteManifest(host: String, repository: String, digest: String) async throws {
        let answer = try await send(.DELETE, host: host, path: "/v2/\(repository)/manifests/\(digest)",
                                    scope: "repository:\(repository):delete,pull")
        if answer.status == 404 { return }
        if answer.status == 405 {
            throw RegistryError(host: host, status: 405, message: "the registry does not allow deleting images; enable deletes (distribution: storage.delete.enabled: true)")
        }
        try answer.check("delete \(repository)@\(digest)", host: host)
    }

    /// `</v2/a/tags/list?n=100&last=x>; rel="next"` → the path.
    static func nextPage(_ link: String) -> String? {
        guard link.contains("rel=\"next\""), let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close else { return nil }
        let target = String(link[link.index(after: open)..<close])
        if target.hasPrefix("/") { return target }
        return URL(string: target).map { $0.path + ($0.query.map { "?\($0)" } ?? "") }
    }

    // MARK: Logging in

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: Data

        func check(_ what: String, host: String) throws {
            guard !(200..<300).contains(status) else { return }
            let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
            let first = (object?["errors"] as? [[String: Any]])?.first
            let detail = [first?["code"] as? String, first?["message"] as? String].compactMap { $0 }.joined(separator: ": ")
            throw RegistryError(host: host, status: status, message: "\(what): \(detail.isEmpty ? "HTTP \(status)" : detail)")
        }
    }

    func send(_ method: HTTPMethod, host given: String, path: String, scope: String, headers: [(String, String)] = []) async throws -> Answer {
        // Docker Hub: its API host, and `library/` for official images (in the path and the scope).
        var host = given, path = path, scope = scope
        if given == "docker.io" || given == "index.docker.io" {
            host = "registry-1.docker.io"
            // `/v2/NAME/manifests/…`, `/v2/NAME/tags/list`: a one-part NAME is an official image.
            let parts = path.dropFirst(4).components(separatedBy: "/")
            if path.hasPrefix("/v2/"), parts.count >= 3, ["manifests", "tags", "blobs"].contains(parts[1]) {
                path = "/v2/library/" + parts.joined(separator: "/")
                scope = scope.replacingOccurrences(of: "repository:\(parts[0]):", with: "repository:library/\(parts[0]):")
            }
        }
        let key = "\(host)|\(scope)"
        var authorization = tokens.withLock { $0[key] }
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: "\(Self.scheme(host))://\(host)\(path)")
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            let answer = try await execute(request, host: host)
            guard answer.status == 401, attempt == 0 else {
                if answer.status == 401 {
                    let known = (try? await credentials(given)) != nil
                    throw RegistryError(host: host, status: 401, message: known
                        ? "the registry refused the login: check the credentials for \(given) (docker login, or ~/.docker/config.json)"
                        : "the registry needs a login and none is known for \(given): run docker login \(given) (credential helpers are not run), or give Slipway the credentials")
                }
                return answer
            }
            guard let header = answer.headers.first(name: "WWW-Authenticate"), let challenge = Challenge.parse(header) else {
                throw RegistryError(host: host, status: 401, message: "the registry asks for a login it does not describe (no usable WWW-Authenticate)")
            }
            authorization = try await login(challenge, host: given, scope: scope)
            tokens.withLock { $0[key] = authorization }
        }
        throw RegistryError(host: host, status: 401, message: "not logged in")
    }

    func login(_ challenge: Challenge, host: String, scope: String) async throws -> String {
        // An anonymous login is no login.
        let login = try await credentials(host).flatMap { $0.isAnonymous ? nil : $0 }
        switch challenge {
        case .basic:
            guard let login, let basic = login.basicAuthorization else {
                throw RegistryError(host: host, status: 401, message: "the registry needs a login and none is known for \(host): run docker login \(host), or give Slipway the credentials")
            }
            return basic
        case .bearer(let realm, let service, let challengeScope):
            // Credentials go to a token service only over TLS (or on this machine): a realm is the registry's word.
            if login != nil, let url = URL(string: realm), url.scheme != "https", !Self.isLoopback(url.host ?? "") {
                throw RegistryError(host: host, status: 401, message: "the registry sends logins to \(realm), which is not https; refusing to send the credentials for \(host) there")
            }
            var components = URLComponents(string: realm)
            var query = components?.queryItems ?? []
            if let service { query.append(URLQueryItem(name: "service", value: service)) }
            query.append(URLQueryItem(name: "scope", value: challengeScope ?? scope))
            components?.queryItems = query
            guard let url = components?.url?.absoluteString else {
                throw RegistryError(host: host, status: 401, message: "the token realm \(realm) is not a URL")
            }
            var request = HTTPClientRequest(url: url)
            if let basic = login?.basicAuthorization { request.headers.add(name: "Authorization", value: basic) }
            let answer = try await execute(request, host: host)
            guard (200..<300).contains(answer.status) else {
                throw RegistryError(host: host, status: answer.status,
                                    message: answer.status == 401 ? "the token service \(realm) refused the login: check the credentials for \(host)"
                                        : "the token service \(realm) answered HTTP \(answer.status)")
            }
            let object = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any]
            guard let token = (object?["token"] as? String) ?? (object?["access_token"] as? String) else {
                throw RegistryError(host: host, status: answer.status, message: "the token service \(realm) gave no token")
            }
            return "Bearer \(token)"
        }
    }

    func execute(_ request: HTTPClientRequest, host: String) async throws -> Answer {
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 32 << 20)
            return Answer(status: Int(response.status.code), headers: response.headers, body: Data(buffer: body))
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError(host: host, status: 0, message: "the registry at \(host) did not answer (\(error)); is it running and reachable?")
        }
    }
}

/// A registry call that failed, in plain words.
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    public var host: String
    public var status: Int
    public var message: String
    public init(host: String, status: Int, message: String) {
        self.host = host
        self.status = status
        self.message = message
    }
    public var description: String { "registry \(host): \(message)" }
    /// Worth trying again later: the registry was unreachable, overloaded or failing.
    public var isTransient: Bool { status == 0 || status == 429 || status >= 500 }
}
