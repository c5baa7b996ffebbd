import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A Docker engine reached through its HTTP API (`DOCKER_HOST`: `unix:///path` or `tcp://host:port`).
public struct DockerEngine: Sendable {
    /// The API version Slipway speaks; engines from 20.10 on understand it.
    static let apiVersion = "v1.41"

    public let host: String
    let baseURL: String
    let http: HTTPClient

    public init(host: String, http: HTTPClient = .shared) throws(DockerError) {
        self.host = host
        self.http = http
        if host.hasPrefix("unix://") {
            let path = String(host.dropFirst("unix://".count))
            guard let encoded = path.addingPercentEncoding(withAllowedCharacters: .urlHostAllowed) else {
                throw DockerError(status: 0, message: "DOCKER_HOST \(host) is not a usable socket path")
            }
            baseURL = "http+unix://\(encoded)"
        } else if host.hasPrefix("tcp://") {
            baseURL = "http://" + host.dropFirst("tcp://".count)
        } else if host.hasPrefix("http://") {
            baseURL = host
        } else {
            throw DockerError(status: 0, message: "DOCKER_HOST `\(host)` must be unix:///path/to/docker.sock or tcp://host:port")
        }
    }

    func url(_ path: String, query: [(String, String)] = []) -> String {
        var components = URLComponents()
        components.queryItems = query.isEmpty ? nil : query.map { URLQueryItem(name: $0.0, value: $0.1) }
        // '+' in values (tags, build args) would read as a space.
        let encodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return "\(baseURL)/\(Self.apiVersion)\(path)" + (encodedQuery.map { "?\($0)" } ?? "")
    }

    /// Sends a request and returns the response once its head arrived.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
              headers: [(String, String)] = [], body: HTTPClientRequest.Body? = nil,
              timeout: TimeAmount = .seconds(60)) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        // Over a unix socket there is no host name; the engine still wants a Host header.
        if baseURL.hasPrefix("http+unix://") { request.headers.replaceOrAdd(name: "Host", value: "docker") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = body }
        do {
            return try await http.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw DockerError.timeout
        } catch let error as HTTPClientError {
            throw DockerError(status: 0, message: "cannot reach the Docker engine at \(host) (\(error)); start it or set DOCKER_HOST")
        } catch let error as ChannelError {
            throw DockerError(status: 0, message: "cannot reach the Docker engine at \(host) (\(error)); start it or set DOCKER_HOST")
        } catch let error as IOError {
            throw DockerError(status: 0, message: "cannot reach the Docker engine at \(host) (\(error)); start it or set DOCKER_HOST")
        }
    }

    /// A request whose answer is read whole; non-2xx answers become `DockerError`.
    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
              json: (any Encodable)? = nil, timeout: TimeAmount = .seconds(60)) async throws -> Data {
        var body: HTTPClientRequest.Body?
        var headers: [(String, String)] = []
        if let json {
            body = .bytes(ByteBuffer(data: try JSONEncoder().encode(json)))
            headers.append(("Content-Type", "application/json"))
        }
        let response = try await send(method, path, query: query, headers: headers, body: body, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let data = Data(buffer: bytes)
        guard (200..<300).contains(response.status.code) else {
            throw DockerError(status: Int(response.status.code), message: Self.message(from: data))
        }
        return data
    }

    func decode<T: Decodable>(_ type: T.Type, _ method: HTTPMethod, _ path: String,
                              query: [(String, String)] = [], json: (any Encodable)? = nil) async throws -> T {
        let data = try await call(method, path, query: query, json: json)
        return try JSONDecoder().decode(T.self, from: data)
    }

    /// A streaming endpoint (`/build`, `/images/…/push`) read as JSON lines.
    func jsonLines(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
                   headers: [(String, String)] = [], body: HTTPClientRequest.Body? = nil,
                   timeout: TimeAmount, onLine: (Data) async throws -> Void) async throws {
        let response = try await send(method, path, query: query, headers: headers, body: body, timeout: timeout)
        guard (200..<300).contains(response.status.code) else {
            let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
            throw DockerError(status: Int(response.status.code), message: Self.message(from: data))
        }
        var pending = Data()
        do {
            for try await chunk in response.body {
                pending.append(contentsOf: chunk.readableBytesView)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<newline]
                    pending.removeSubrange(pending.startIndex...newline)
                    if !line.isEmpty { try await onLine(Data(line)) }
                }
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw DockerError.timeout
        }
        if !pending.isEmpty { try await onLine(pending) }
    }

    static func message(from data: Data) -> String {
        struct Body: Decodable { var message: String }
        if let body = try? JSONDecoder().decode(Body.self, from: data) { return body.message }
        return String(decoding: data.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func ping() async -> Bool {
        (try? await call(.GET, "/_ping", timeout: .seconds(5))) != nil
    }
}

public struct DockerError: Error, Sendable, CustomStringConvertible {
    /// HTTP status of the engine's answer; 0 when the engine was not reached.
    public var status: Int
    public var message: String
    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }
    public var description: String { status == 0 ? message : "Docker engine (\(status)): \(message)" }
    public var isNotFound: Bool { status == 404 }
    /// The request did not finish within its time limit.
    public var isTimeout: Bool { status == 408 }
    static let timeout = DockerError(status: 408, message: "the engine did not finish within the time limit")
}
