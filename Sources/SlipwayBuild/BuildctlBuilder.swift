import Foundation
import SlipwayCore
import SlipwayDocker
import SlipwaySystem

/// Builds with a BuildKit daemon through `buildctl` (`BUILDKIT_HOST`: `tcp://buildkitd:1234`,
/// `unix:///run/buildkit/buildkitd.sock`): the Dockerfile frontend, pushed by BuildKit
/// itself, with the registry cache next to the image (`REPO:buildcache`). Its rawjson
/// progress becomes the same log as the engine's. Ending the task (a cancel, a newer push)
/// or passing `build.timeout` ends buildctl, which cancels the build in the daemon.
public struct BuildctlBuilder: Builder {
    let host: String
    let executable: String
    let runner: any CommandRunner
    /// The push's registry login (ECR's from AWS, others from ~/.docker/config.json).
    let auth: RegistryLoginProvider
    /// Where secret files live during a build (readable by this user only), removed after it.
    let scratch: String

    public init(host: String, executable: String = "buildctl", runner: any CommandRunner = StreamingProcess(),
                scratch: String = NSTemporaryDirectory(), auth: @escaping RegistryLoginProvider = RegistryLogin.anonymous) {
        self.host = host
        self.auth = auth
        self.executable = executable
        self.runner = runner
        self.scratch = scratch
    }

    public func build(_ request: BuildRequest, observer: any BuildObserver) async throws -> BuiltImage {
        let dockerfilePath = "\(request.contextDirectory)/\(request.dockerfile)"
        guard FileManager.default.fileExists(atPath: dockerfilePath) else {
            throw BuildFailure(stage: .context, message: "no \(request.dockerfile) in the build context; add it or set build.dockerfile in the policy")
        }
        let work = "\(scratch)/slipway-buildctl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: work) }
        let secrets = try BuildSecrets.files(request.secrets, reader: request.secretReader, in: work)
        let metadata = "\(work)/metadata.json"
        let argv = BuildctlArguments.build(request, host: host, metadataFile: metadata, secrets: secrets)
        // buildctl pushes with a Docker config: one for this build, holding only this registry's login.
        var settings: [String: String] = [:]
        let registry = request.reference.registry ?? "docker.io"
        let login: RegistryLogin
        do {
            if let given = request.registryLogin { login = given } else { login = try await auth(request.reference.registry) }
        } catch {
            throw BuildFailure(stage: .push, message: "no login for registry \(registry): \(error)")
        }
        if let user = login.username, let password = login.password {
            let config = ["auths": [registry: ["auth": Data("\(user):\(password)".utf8).base64EncodedString()]]]
            guard FileManager.default.createFile(atPath: "\(work)/config.json", contents: try JSONSerialization.data(withJSONObject: config),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw BuildFailure(stage: .context, message: "the registry login could not be written for buildctl")
            }
            settings["DOCKER_CONFIG"] = work
        }
        let environment = settings

        await observer.phase(.building)
        let progress = ProgressBox()
        let outcome = try await BuildTimeout.race(request.timeout) {
            try await runner.run(executable, argv, environment: environment) { line in
                await observer.report(await progress.consume(Data(line.utf8)))
            }
        }
        guard let status = outcome else { throw BuildTimeout.failure(request.timeout) }
        try Task.checkCancellation()
        guard status == 0 else {
            let error = await progress.error
            throw BuildFailure(stage: .build, message: error.map { BuildFailure.plainWords($0) } ?? "buildctl exited with status \(status) (BUILDKIT_HOST \(host))")
        }
        await observer.phase(.pushing)
        let digest = FileManager.default.contents(atPath: metadata).flatMap(BuildctlArguments.digest)
        return BuiltImage(reference: request.reference.description, digest: digest)
    }
}

/// BuildProgress behind an actor: lines arrive from the process reader's task.
actor ProgressBox {
    var progress = BuildProgress()
    func consume(_ line: Data) -> (lines: [String], steps: [BuildStep]) {
        let lines = progress.consumeRawJSON(line)
        return (lines, progress.takeSteps())
    }
    func consumeEngine(_ line: Data) -> (lines: [String], steps: [BuildStep]) {
        let lines = progress.consume(line)
        return (lines, progress.takeSteps())
    }
    var error: String? { progress.error }
}

extension BuildObserver {
    /// Lines first, then the steps they announced.
    func report(_ update: (lines: [String], steps: [BuildStep])) async {
        if !update.lines.isEmpty { await log(update.lines) }
        for step in update.steps { await self.step(step) }
    }
}

/// Secret values written to files BuildKit reads them from (`--secret id=ID,src=FILE`),
/// in the build's own folder, readable by this user only.
enum BuildSecrets {
    static func files(_ secrets: [String: SecretReference], reader: SecretReader, in folder: String) throws -> [BuildctlArguments.Secret] {
        try secrets.sorted { $0.key < $1.key }.map { id, reference in
            let value: String
            do { value = try reader.value(reference, for: "build secret \(id)") } catch {
                throw BuildFailure(stage: .context, message: "\(error)", transient: false)
            }
            let file = "\(folder)/secret-\(id)"
            guard FileManager.default.createFile(atPath: file, contents: Data(value.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw BuildFailure(stage: .context, message: "build secret \(id): could not be written for BuildKit")
            }
            return .init(id: id, file: file)
        }
    }
}

extension BuildFailure {
    /// BuildKit's errors, in words that say what to do.
    public static func plainWords(_ error: String) -> String {
        let lower = error.lowercased()
        if lower.contains("no space left on device") {
            return "the builder's disk is full (\(error)); free space on the BuildKit host (prune its cache) and deploy again"
        }
        if lower.contains("dockerfile parse error") || lower.contains("unknown instruction") {
            return "the Dockerfile has a syntax error: \(error)"
        }
        if lower.contains("401 unauthorized") || lower.contains("403 forbidden") || lower.contains("authorization failed")
            || lower.contains("no basic auth credentials") {
            return "the registry refused the login (\(error)); check the registry credentials"
        }
        if lower.contains("connection refused") || lower.contains("no such host") || lower.contains("i/o timeout") {
            return "a registry or the BuildKit daemon could not be reached (\(error)); it is retried when it may help"
        }
        return error
    }
}
