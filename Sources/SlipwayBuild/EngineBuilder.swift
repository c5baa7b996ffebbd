import Foundation
import NIOCore
import NIOPosix
import SlipwayCore
import SlipwayDocker
import SlipwaySystem

/// Builds with the Docker engine's BuildKit (`POST /build?version=2`) and pushes
/// with the engine, which holds the registry credentials it was given. Builds with
/// secrets go through a Docker CLI (`cli`), which speaks the BuildKit session the
/// secrets travel in; the push is the same.
public struct EngineBuilder: Builder {
    let engine: DockerEngine
    let auth: RegistryLoginProvider
    /// A Docker CLI with BuildKit (20.10+, or one with buildx) and the engine's address, for builds with secrets.
    let cli: (path: String, host: String)?
    let runner: any CommandRunner

    public init(engine: DockerEngine, auth: @escaping RegistryLoginProvider = RegistryLogin.anonymous,
                cli: (path: String, host: String)? = nil, runner: any CommandRunner = StreamingProcess()) {
        self.engine = engine
        self.auth = auth
        self.cli = cli
        self.runner = runner
    }

    public func build(_ request: BuildRequest, observer: any BuildObserver) async throws -> BuiltImage {
        guard request.secrets.isEmpty else { return try await buildWithSecrets(request, observer: observer) }
        let dockerfilePath = "\(request.contextDirectory)/\(request.dockerfile)"
        guard FileManager.default.fileExists(atPath: dockerfilePath) else {
            throw BuildFailure(stage: .context, message: "no \(request.dockerfile) in the build context; add it or set build.dockerfile in the policy")
        }
        let context = try await NIOThreadPool.singleton.runIfActive {
            let ignore: DockerIgnore
            do { ignore = try DockerIgnore.load(directory: request.contextDirectory, checkout: request.checkoutDirectory) } catch {
                throw BuildFailure(stage: .context, message: "\(error)")
            }
            return try TarArchive.of(directory: request.contextDirectory, ignore: ignore)
        }

        await observer.phase(.building)
        guard request.reference.tag != nil else {
            throw BuildFailure(stage: .build, message: "image reference \(request.reference) has no tag")
        }
        let reference = request.reference.description
        let progress = ProgressBox()
        let engine = self.engine
        // The HTTP deadline covers only the answer's head: the whole build races build.timeout, and losing
        // ends the request, which makes the engine cancel the build.
        let finished: Bool
        do {
            finished = try await BuildTimeout.race(request.timeout) {
                try await engine.build(context: context, tag: reference, dockerfile: request.dockerfile,
                                       buildArgs: request.buildArgs, network: request.network,
                                       target: request.target, cache: request.cache, cacheFrom: request.cacheFrom,
                                       platform: request.platform,
                                       timeout: .milliseconds(request.timeout.milliseconds)) { line in
                    await observer.report(await progress.consumeEngine(line))
                }
            } != nil
        } catch let error as DockerError where error.isTimeout {
            finished = false
        } catch let error as DockerError {
            throw BuildFailure(stage: .build, message: BuildFailure.plainWords(error.description))
        }
        guard finished else { throw BuildTimeout.failure(request.timeout) }
        try Task.checkCancellation()
        if let error = await progress.error {
            throw BuildFailure(stage: .build, message: BuildFailure.plainWords(error))
        }

        return try await push(request, observer: observer)
    }

    /// Pushes the built `request.reference` with the engine; returns it with the registry's digest.
    func push(_ request: BuildRequest, observer: any BuildObserver) async throws -> BuiltImage {
        guard let tag = request.reference.tag else {
            throw BuildFailure(stage: .build, message: "image reference \(request.reference) has no tag")
        }
        let reference = request.reference.description
        await observer.phase(.pushing)
        var digest: String?
        var pushError: String?
        let login: RegistryLogin
        do {
            if let given = request.registryLogin { login = given } else { login = try await auth(request.reference.registry) }
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
            throw BuildFailure(stage: .push, message: BuildFailure.plainWords("\(pushError) (registry \(request.reference.registry ?? "docker.io"))"))
        }
        return BuiltImage(reference: reference, digest: digest)
    }
}

extension EngineBuilder {
    /// `docker build --secret id=ID,src=FILE` through the CLI: the secret reaches
    /// `RUN --mount=type=secret` steps over the BuildKit session, never a layer or the log.
    func buildWithSecrets(_ request: BuildRequest, observer: any BuildObserver) async throws -> BuiltImage {
        guard let cli else {
            throw BuildFailure(stage: .context, message: "build.secrets (\(request.secrets.keys.sorted().joined(separator: ", "))) need BuildKit's session: install a Docker CLI with BuildKit (SLIPWAY_DOCKER_CLI) or set BUILDKIT_HOST to build with buildctl")
        }
        guard FileManager.default.fileExists(atPath: "\(request.contextDirectory)/\(request.dockerfile)") else {
            throw BuildFailure(stage: .context, message: "no \(request.dockerfile) in the build context; add it or set build.dockerfile in the policy")
        }
        let work = "\(NSTemporaryDirectory())/slipway-secrets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: work) }
        let secrets = try BuildSecrets.files(request.secrets, reader: request.secretReader, in: work)
        let argv = Self.cliArguments(request, host: cli.host, secrets: secrets)

        await observer.phase(.building)
        let failure = FailureBox()
        let outcome = try await BuildTimeout.race(request.timeout) {
            try await runner.run(cli.path, argv, environment: ["DOCKER_BUILDKIT": "1"]) { line in
                if line.hasPrefix("ERROR:") || line.hasPrefix("error:") || line.contains(" ERROR: ") { await failure.note(line) }
                await observer.log([line])
            }
        }
        guard let status = outcome else { throw BuildTimeout.failure(request.timeout) }
        try Task.checkCancellation()
        guard status == 0 else {
            let last = await failure.last
            throw BuildFailure(stage: .build, message: last.map { BuildFailure.plainWords($0) } ?? "docker build exited with status \(status)")
        }
        return try await push(request, observer: observer)
    }

    /// `docker -H HOST build …` as an argv array.
    public static func cliArguments(_ request: BuildRequest, host: String, secrets: [BuildctlArguments.Secret]) -> [String] {
        var argv = ["-H", host, "build", "--progress", "plain", "-t", request.reference.description,
                    "-f", "\(request.contextDirectory)/\(request.dockerfile)"]
        for (name, value) in request.buildArgs.sorted(by: { $0.key < $1.key }) { argv += ["--build-arg", "\(name)=\(value)"] }
        if let target = request.target { argv += ["--target", target] }
        if let platform = request.platform { argv += ["--platform", platform] }
        if let network = request.network { argv += ["--network", network] }
        if !request.cache { argv += ["--no-cache"] }
        argv += ["--build-arg", "BUILDKIT_INLINE_CACHE=1"]
        if request.cache { for image in request.cacheFrom { argv += ["--cache-from", image] } }
        for secret in secrets.sorted(by: { $0.id < $1.id }) { argv += ["--secret", "id=\(secret.id),src=\(secret.file)"] }
        return argv + [request.contextDirectory]
    }
}

actor FailureBox {
    var last: String?
    func note(_ line: String) { last = line }
}
