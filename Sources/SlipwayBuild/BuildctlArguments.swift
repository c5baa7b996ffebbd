import Foundation
import SlipwayCore

/// The `buildctl build` command line for a request, as an argv array (no shell): the
/// Dockerfile frontend, the context and Dockerfile folders, build args, target, platform,
/// secrets by file, an image output pushed to its registry, registry cache in and out, and
/// machine-readable progress.
public enum BuildctlArguments {
    /// A build secret handed to BuildKit: mounted at `/run/secrets/ID` in `RUN --mount=type=secret,id=ID`
    /// steps, never part of a layer or the log.
    public struct Secret: Sendable, Hashable {
        public var id: String
        /// A file only Slipway can read, holding the value.
        public var file: String
        public init(id: String, file: String) {
            self.id = id
            self.file = file
        }
    }

    /// `--addr HOST build …`; `metadataFile` receives `containerimage.digest`.
    public static func build(_ request: BuildRequest, host: String, metadataFile: String, secrets: [Secret] = []) -> [String] {
        let dockerfile = URL(fileURLWithPath: "\(request.contextDirectory)/\(request.dockerfile)")
        var argv = ["--addr", host, "build",
                    "--frontend", "dockerfile.v0",
                    "--local", "context=\(request.contextDirectory)",
                    "--local", "dockerfile=\(dockerfile.deletingLastPathComponent().path)",
                    "--opt", "filename=\(dockerfile.lastPathComponent)"]
        for (name, value) in request.buildArgs.sorted(by: { $0.key < $1.key }) {
            argv += ["--opt", "build-arg:\(name)=\(value)"]
        }
        if let target = request.target { argv += ["--opt", "target=\(target)"] }
        if let platform = request.platform { argv += ["--opt", "platform=\(platform)"] }
        if !request.cache { argv += ["--no-cache"] }
        for secret in secrets.sorted(by: { $0.id < $1.id }) {
            argv += ["--secret", "id=\(secret.id),src=\(secret.file)"]
        }
        let cache = request.reference.withTag("buildcache").description
        argv += ["--output", "type=image,name=\(request.reference.description),push=true",
                 "--export-cache", "type=registry,ref=\(cache),mode=max",
                 "--import-cache", "type=registry,ref=\(cache)",
                 "--metadata-file", metadataFile,
                 "--progress", "rawjson"]
        return argv
    }

    /// The pushed manifest's digest from `--metadata-file`.
    public static func digest(metadata: Data) -> String? {
        let object = (try? JSONSerialization.jsonObject(with: metadata)) as? [String: Any]
        return object?["containerimage.digest"] as? String
    }
}
