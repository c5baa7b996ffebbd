import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SlipwayApp
import SlipwayCore
import SlipwayStore

/// The CLI over a Slipway server's API (SLIPWAY_URL + SLIPWAY_TOKEN): the same answers the
/// database path gives, decoded from the API's JSON, and refusals in the API's own words.
struct RemoteControl: Sendable {
    let base: String
    let token: String?

    /// When SLIPWAY_URL is set, the verbs that read or change state go through it.
    static func from(_ config: Configuration) throws -> RemoteControl? {
        guard let url = config.apiURL else { return nil }
        guard let token = config.apiToken else {
            throw CLIError("SLIPWAY_URL is set but SLIPWAY_TOKEN is not: ask an admin for a token (`slipway tokens create NAME --role viewer`)")
        }
        return RemoteControl(base: url + "/api/v1", token: token)
    }

    /// One request; a JSON body for `body`; the answer's bytes when it is 2xx, else a `CLIError` in the API's words.
    func call(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil) async throws -> Data {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        }
        let response: HTTPClientResponse
        do { response = try await HTTPClient.shared.execute(request, timeout: .seconds(30)) } catch {
            throw CLIError("cannot reach the Slipway server at \(base): \(error); check SLIPWAY_URL")
        }
        let data = Data(buffer: try await response.body.collect(upTo: 64 << 20))
        guard (200..<300).contains(Int(response.status.code)) else { throw Self.refusal(status: Int(response.status.code), data) }
        return data
    }

    /// The API's words, as the database path says them; 401 and 403 add what to do about the token.
    static func refusal(status: Int, _ data: Data) -> CLIError {
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        let error = object?["error"] as? String ?? "the server answered \(status)"
        guard status == 401 || status == 403, let hint = object?["hint"] as? String else { return CLIError(error) }
        return CLIError("\(error): \(hint)")
    }

    func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do { return try JSONDecoder.slipway.decode(T.self, from: data) } catch {
            throw CLIError("the server's answer is not what this slipway understands (\(error)); are the CLI and the server the same version?")
        }
    }

    static func escaped(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? segment
    }

    // MARK: - The verbs

    /// One service, or every service page by page, with as many deployments as the database path shows.
    func status(service: String?, timelines: Bool = false) async throws -> [ServiceStatus] {
        let timeline = timelines ? "&timeline=true" : ""
        if let service { return try decode([ServiceStatus].self, try await call(.GET, "/services/\(Self.escaped(service))?deployments=20" + timeline)) }
        var all: [ServiceStatus] = []
        var after: String?
        while true {
            let page = try decode([ServiceStatus].self, try await call(.GET, "/services?limit=500&deployments=20" + timeline
                                                                        + (after.map { "&after=\(Self.escaped($0))" } ?? "")))
            all += page
            // A server that does not page (or pages backwards) ends the loop rather than repeating it.
            guard page.count == 500, let last = page.last?.service, after.map({ last > $0 }) ?? true else { return all }
            after = last
        }
    }

    func deploy(service: String, sha: String?, image: String?) async throws -> Int64 {
        var body: [String: Any] = [:]
        body["sha"] = sha
        body["image"] = image
        let answer = try JSONSerialization.jsonObject(with: try await call(.POST, "/services/\(Self.escaped(service))/deploy", body: body)) as? [String: Any]
        guard let id = answer?["deployment"] as? Int else { throw CLIError("the server's answer names no deployment") }
        return Int64(id)
    }

    func rollback(service: String, to: Int64?) async throws -> (deployment: Int64, target: Int64, sha: String?, image: String?) {
        var body: [String: Any] = [:]
        body["to"] = to
        let answer = try JSONSerialization.jsonObject(with: try await call(.POST, "/services/\(Self.escaped(service))/rollback", body: body)) as? [String: Any]
        guard let id = answer?["deployment"] as? Int, let target = answer?["to"] as? Int else { throw CLIError("the server's answer names no deployment") }
        return (Int64(id), Int64(target), answer?["sha"] as? String, answer?["image"] as? String)
    }

    func cancel(_ id: Int64) async throws -> (queued: Int, running: Int) {
        let answer = try JSONSerialization.jsonObject(with: try await call(.POST, "/deployments/\(id)/cancel", body: [:])) as? [String: Any]
        return (Int(answer?["queuedJobsEnded"] as? String ?? "0") ?? 0, Int(answer?["runningJobsAsked"] as? String ?? "0") ?? 0)
    }

    func logs(_ id: Int64) async throws -> [String] {
        let lines = try JSONSerialization.jsonObject(with: try await call(.GET, "/deployments/\(id)/logs")) as? [[String: Any]] ?? []
        return lines.compactMap { $0["line"] as? String }
    }

    /// A deployment's state and reason now.
    func deployment(_ id: Int64) async throws -> (state: String, reason: String?) {
        let object = try JSONSerialization.jsonObject(with: try await call(.GET, "/deployments/\(id)")) as? [String: Any]
        return (object?["state"] as? String ?? "?", object?["reason"] as? String)
    }

    /// Follows the deployment's server-sent events: each log line as it comes, then the end.
    func follow(_ id: Int64, line: (String) -> Void, end: (_ state: String, _ reason: String?) -> Void) async throws {
        var request = HTTPClientRequest(url: base + "/deployments/\(id)/stream")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await HTTPClient.shared.execute(request, timeout: .hours(24))
        guard response.status == .ok else {
            throw Self.refusal(status: Int(response.status.code), Data(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        // Bytes until a blank line: a character split across chunks is whole by then.
        var pending: [UInt8] = []
        for try await chunk in response.body {
            pending += chunk.readableBytesView
            while let cut = Self.blankLine(in: pending) {
                let block = String(decoding: pending[..<cut], as: UTF8.self)
                pending.removeFirst(cut + 2)
                var kind = "", data = ""
                for field in block.split(separator: "\n") {
                    if field.hasPrefix("event: ") { kind = String(field.dropFirst(7)) }
                    if field.hasPrefix("data: ") { data = String(field.dropFirst(6)) }
                }
                let object = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: String] ?? [:]
                if kind == "log", let text = object["line"] { line(text) }
                if kind == "end" { end(object["state"] ?? "?", object["reason"]); return }
            }
        }
        throw CLIError("the server closed the stream before deployment \(id) ended; run `slipway logs \(id) --follow` again")
    }

    static func blankLine(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 10 && bytes[index + 1] == 10 { return index }
        return nil
    }

    /// The server's plan from the policy set it applied, and why drift could not be judged, if so.
    func plan(service: String?) async throws -> Planner.Result {
        try decode(Planner.Result.self, try await call(.GET, "/plan" + (service.map { "?service=\(Self.escaped($0))" } ?? "")))
    }

    func previews(service: String?) async throws -> [PreviewStatus] {
        try decode([PreviewStatus].self, try await call(.GET, service.map { "/services/\(Self.escaped($0))/previews" } ?? "/previews"))
    }

    func destroyPreview(service: String, number: Int) async throws {
        _ = try await call(.DELETE, "/services/\(Self.escaped(service))/previews/\(number)")
    }

    func policySets(limit: Int) async throws -> [PolicySetRecord] {
        try decode([PolicySetRecord].self, try await call(.GET, "/policies?limit=\(limit)"))
    }

    func createToken(name: String, role: APIRole, expires: String?) async throws -> String {
        var body: [String: Any] = ["name": name, "role": role.rawValue]
        body["expires"] = expires
        let answer = try JSONSerialization.jsonObject(with: try await call(.POST, "/tokens", body: body)) as? [String: Any]
        guard let token = answer?["token"] as? String else { throw CLIError("the server's answer holds no token") }
        return token
    }

    func tokens() async throws -> Data { try await call(.GET, "/tokens") }

    func revokeToken(name: String) async throws { _ = try await call(.DELETE, "/tokens/\(Self.escaped(name))") }
}
