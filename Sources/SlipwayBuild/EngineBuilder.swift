import Foundation
import NIOCore
import NIOPosix
import SlipwayCore
import SlipwayDocker

/// Builds with the Docker engine's BuildKit (`POST /build?version=2`) and pushes
/// with the engine, which holds the registry credentials it was given.
public struct EngineBuilder: Builder {
    let engine: DockerEngine
    let auth: RegistryAuthProvider

    public init(engine: DockerEngine, auth: @escaping RegistryAuthProvider = RegistryAuth.anonymous) {
        self.engine = engine
        self.auth = auth
    }

    public func build(_ request: BuildRequest, observer: any BuildObserver) async throws -> BuiltImage {
        let dockerfilePath = "\(request.contextDirectory)/\(request.dockerfile)"
        guard FileManager.default.fileExists(atPath: dockerfilePath) else {
            throw BuildFailure(stage: .context, message: "no \(request.dockerfile) in the build context; add it or set build.dockerfile in the policy")
        }
        let context = try await NIOThreadPool.singleton.runIfActive {
            let ignore = DockerIgnore.load(directory: request.contextDirectory)
            return try TarArchive.of(directory: request.contextDirectory, ignore: ignore)
        }

        await observer.phase(.building)
        guard let tag = request.reference.tag else {
            throw BuildFailure(stage: .build, message: "image reference \(request.reference) has no tag")
        }
        let reference = request.reference.description
        var progress = BuildProgress()
        do {
            try await engine.build(context: context, tag: reference, dockerfile: request.dockerfile,
                                   buildArgs: request.buildArgs, network: request.network,
                                   target: request.target, cache: request.cache,
                                   timeout: .milliseconds(request.timeout.milliseconds)) { line in
                let lines = progress.consume(line)
                if !lines.isEmpty { await observer.log(lines) }
            }
        } catch let error as DockerError where error.isTimeout {
            throw BuildFailure(stage: .build, message: "the build ran longer than build.timeout (\(request.timeout)); raise it in the policy or make the build faster")
        } catch let error as DockerError {
            throw BuildFailure(stage: .build, message: error.description)
        }
        if let error = progress.error {
            throw BuildFailure(stage: .build, message: error)
        }

        await observer.phase(.pushing)
        var digest: String?
        var pushError: String?
        let login: RegistryAuth
        do {
            login = try await auth(request.reference.registry)
        } catch {
            throw BuildFailure(stage: .push, message: "no login for registry \(request.reference.registry ?? "docker.io"): \(error)")
        }
        do {
            try await engine.push(repository: request.reference.repository, tag: tag,
                                  auth: login,
                                  timeout: .milliseconds(request.timeout.milliseconds)) { line in
                let parsed = DockerStreamLine(line)
                if let error = parsed.error { pushError = error }
                if let d = parsed.auxDigest { digest = d }
                if let status = parsed.status, parsed.id == nil || status.hasPrefix("Pushed") || status.contains("digest:") {
                    await observer.log(["push: " + (parsed.id.map { "\($0) " } ?? "") + status])
                }
            }
        } catch let error as DockerError {
            throw BuildFailure(stage: .push, message: error.description)
        }
        if let pushError {
            throw BuildFailure(stage: .push, message: "\(pushError) (registry \(request.reference.registry ?? "docker.io"))")
        }
        return BuiltImage(reference: reference, digest: digest)
    }
}
