import Foundation
import SlipwayCore
import SlipwayDocker
import SlipwaySystem

/// What to build and where to put it.
public struct BuildRequest: Sendable, Hashable {
    /// The checked-out build context on disk.
    public var contextDirectory: String
    /// Relative to the context.
    public var dockerfile: String
    /// `registry/path:tag` — built, then pushed.
    public var reference: ImageReference
    public var buildArgs: [String: String]
    public var network: String?
    public var timeout: TimeSpan
    /// The Dockerfile stage to build; nil: the last.
    public var target: String?
    /// false: build every step again (no layer cache).
    public var cache: Bool
    /// `linux/arm64` and the like; nil: the builder's own.
    public var platform: String?
    /// Build secrets by id (`RUN --mount=type=secret,id=ID`), where their values are read from.
    public var secrets: [String: SecretReference]
    /// Reads `secrets` within the operator's rules for what policies may name.
    public var secretReader: SecretReader
    /// The checkout the context lies in (links may lead anywhere inside it); nil: the context itself.
    public var checkoutDirectory: String?
    /// Images whose build cache seeds this build (the service's last one), so a builder that
    /// never built this repository (a new replica, a pruned cache) starts from the registry.
    public var cacheFrom: [String] = []
    /// The login for the push, from the policy's `imageCredentials`; nil: the builder's own.
    public var registryLogin: RegistryLogin?

    public init(contextDirectory: String, dockerfile: String, reference: ImageReference,
                buildArgs: [String: String], network: String?, timeout: TimeSpan, target: String? = nil, cache: Bool = true,
                platform: String? = nil, secrets: [String: SecretReference] = [:], secretReader: SecretReader = .standard,
                checkoutDirectory: String? = nil) {
        self.checkoutDirectory = checkoutDirectory
        self.secretReader = secretReader
        self.platform = platform
        self.secrets = secrets
        self.target = target
        self.cache = cache
        self.contextDirectory = contextDirectory
        self.dockerfile = dockerfile
        self.reference = reference
        self.buildArgs = buildArgs
        self.network = network
        self.timeout = timeout
    }
}

/// A pushed image.
public struct BuiltImage: Sendable, Hashable {
    /// `registry/path:tag`
    public var reference: String
    /// The registry's manifest digest.
    public var digest: String?

    public init(reference: String, digest: String?) {
        self.reference = reference
        self.digest = digest
    }
}

public enum BuildPhase: Sendable, Hashable {
    case building
    case pushing
}

/// One step of a build as BuildKit reports it: started, taken from the cache, done or failed.
public struct BuildStep: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable { case started, cached, done, error }
    /// `#n` in the log.
    public var number: Int
    public var name: String
    public var state: State
    /// How long it ran, once done or failed.
    public var seconds: Double?
    public var error: String?

    public init(number: Int, name: String, state: State, seconds: Double? = nil, error: String? = nil) {
        self.number = number
        self.name = name
        self.state = state
        self.seconds = seconds
        self.error = error
    }
}

/// Where build output goes while it happens.
public protocol BuildObserver: Sendable {
    func phase(_ phase: BuildPhase) async
    func log(_ lines: [String]) async
    /// A step changed state (the log has the same, as text).
    func step(_ step: BuildStep) async
}

extension BuildObserver {
    public func step(_ step: BuildStep) async {}
}

/// Builds an image from a context and pushes it to its registry.
public protocol Builder: Sendable {
    func build(_ request: BuildRequest, observer: any BuildObserver) async throws -> BuiltImage
}

/// A build that did not produce a pushed image. `message` is meant for the deployment's reason.
public struct BuildFailure: Error, Sendable, CustomStringConvertible {
    public enum Stage: String, Sendable { case context, build, push }
    public var stage: Stage
    public var message: String
    /// Trying again later may help: a registry or daemon that could not be reached or was failing.
    public var transient: Bool
    public var description: String { "\(stage.rawValue) failed: \(message)" }
    public init(stage: Stage, message: String, transient: Bool? = nil) {
        self.stage = stage
        self.message = message
        self.transient = transient ?? Self.looksTransient(message)
    }

    /// Unreachable, timed out or failing with 5xx: worth another attempt. A refused login,
    /// a full disk or a syntax error is not.
    static func looksTransient(_ message: String) -> Bool {
        let lower = message.lowercased()
        return ["connection refused", "no such host", "i/o timeout", "connection reset", "did not answer", "cannot reach",
                "502 bad gateway", "503 service unavailable", "504 gateway", "500 internal server error", "toomanyrequests"]
            .contains { lower.contains($0) }
    }
}
