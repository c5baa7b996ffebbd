import SlipwayCore
import AsyncHTTPClient
import Foundation
import NIOCore

/// Credentials for a registry, passed to the engine in `X-Registry-Auth`.
/// The login for a registry host (nil: Docker Hub); throws when it cannot be had (an ECR
/// token the AWS credentials may not fetch), with a message that says why.
extension RegistryLogin {
    /// The engine wants URL-safe base64 of the JSON, and the header even when anonymous.
    var header: String {
        struct Body: Encodable {
            var username: String?
            var password: String?
            var serveraddress: String?
        }
        let json = (try? JSONEncoder().encode(Body(username: username, password: password, serveraddress: serveraddress))) ?? Data("{}".utf8)
        return json.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
    }
}

extension DockerEngine {
    /// Builds with the engine's BuildKit (`version=2`) from a tar of the context.
    /// Each line of the engine's answer is handed to `onLine` as it arrives.
    /// `cacheFrom`: images whose inline cache (BuildKit's, exported with every build here) seeds this one.
    public func build(context: ByteBuffer, tag: String, dockerfile: String, buildArgs: [String: String],
                      network: String?, target: String? = nil, cache: Bool = true, cacheFrom: [String] = [],
                      platform: String? = nil, timeout: TimeAmount, onLine: (Data) async throws -> Void) async throws {
        var query: [(String, String)] = [("version", "2"), ("t", tag), ("dockerfile", dockerfile), ("rm", "1"), ("forcerm", "1")]
        var buildArgs = buildArgs
        // The cache goes out inside the image, so the next build can take it from the registry.
        buildArgs["BUILDKIT_INLINE_CACHE"] = buildArgs["BUILDKIT_INLINE_CACHE"] ?? "1"
        if cache, !cacheFrom.isEmpty {
            query.append(("cachefrom", String(decoding: try JSONEncoder().encode(cacheFrom), as: UTF8.self)))
        }
        if !buildArgs.isEmpty {
            query.append(("buildargs", String(decoding: try JSONEncoder().encode(buildArgs), as: UTF8.self)))
        }
        if let network { query.append(("networkmode", network)) }
        if let target { query.append(("target", target)) }
        if let platform { query.append(("platform", platform)) }
        if !cache { query.append(("nocache", "1")) }
        try await jsonLines(.POST, "/build", query: query, headers: [("Content-Type", "application/x-tar")],
                            body: .bytes(context), timeout: timeout, onLine: onLine)
    }

    /// Pushes `repository:tag`; progress lines go to `onLine`.
    public func push(repository: String, tag: String, auth: RegistryLogin, timeout: TimeAmount,
                     onLine: (Data) async throws -> Void) async throws {
        try await jsonLines(.POST, "/images/\(repository)/push", query: [("tag", tag)],
                            headers: [("X-Registry-Auth", auth.header)], timeout: timeout, onLine: onLine)
    }

    /// Pulls `reference` unless the engine has it already.
    public func ensureImage(_ reference: String, auth: RegistryLogin, timeout: TimeAmount = .minutes(10)) async throws {
        if try await imageExists(reference) { return }
        var failure: String?
        try await jsonLines(.POST, "/images/create", query: [("fromImage", reference)],
                            headers: [("X-Registry-Auth", auth.header)], timeout: timeout) { line in
            if let message = DockerStreamLine(line).error { failure = message }
        }
        if let failure { throw DockerError(status: 0, message: "pull \(reference): \(failure)") }
    }

    public func imageExists(_ reference: String) async throws -> Bool {
        do {
            try await call(.GET, "/images/\(reference)/json")
            return true
        } catch let error as DockerError where error.isNotFound {
            return false
        }
    }

    /// Loads a root filesystem tar as an image (how base images are made with no registry access).
    public func importImage(rootfs: ByteBuffer, repository: String, tag: String) async throws {
        try await jsonLines(.POST, "/images/create", query: [("fromSrc", "-"), ("repo", repository), ("tag", tag)],
                            headers: [("Content-Type", "application/x-tar")], body: .bytes(rootfs),
                            timeout: .minutes(5)) { _ in }
    }
}

/// One JSON line of the engine's streaming answers (build, push, pull).
public struct DockerStreamLine: Sendable {
    public var id: String?
    public var stream: String?
    public var status: String?
    public var error: String?
    /// `aux` when it is a string (BuildKit traces, base64).
    public var auxString: String?
    public var auxDigest: String?
    public var auxImageID: String?

    public init(_ data: Data) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            stream = String(decoding: data, as: UTF8.self)
            return
        }
        id = object["id"] as? String
        stream = object["stream"] as? String
        status = object["status"] as? String
        if let detail = object["errorDetail"] as? [String: Any], let message = detail["message"] as? String {
            error = message
        } else {
            error = object["error"] as? String
        }
        if let aux = object["aux"] as? String {
            auxString = aux
        } else if let aux = object["aux"] as? [String: Any] {
            auxDigest = aux["Digest"] as? String
            auxImageID = aux["ID"] as? String
        }
    }
}

extension DockerEngine {
    /// The image as `docker save` writes it (a tar of its config and layers), at most 64 MiB.
    public func save(_ reference: String) async throws -> Data {
        try await call(.GET, "/images/\(reference)/get", timeout: .minutes(5))
    }
}

extension DockerEngine {
    /// Gives an image of the engine another name (`repository:tag`).
    public func tag(_ source: String, as target: String) async throws {
        guard let colon = target.lastIndex(of: ":"), !target[colon...].contains("/") else {
            throw DockerError(status: 400, message: "\(target) names no tag")
        }
        try await call(.POST, "/images/\(source)/tag", query: [("repo", String(target[..<colon])), ("tag", String(target[target.index(after: colon)...]))])
    }

    /// Removes an image from the engine (not the registry).
    public func removeImage(_ reference: String) async throws {
        do {
            try await call(.DELETE, "/images/\(reference)", query: [("force", "1")])
        } catch let error as DockerError where error.status == 404 {
            return
        }
    }

    /// Empties BuildKit's local cache in the engine.
    public func pruneBuildCache() async throws {
        try await call(.POST, "/build/prune", query: [("all", "1")], timeout: .minutes(5))
    }
}

