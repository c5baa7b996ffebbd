import Foundation
import PackagePlugin

/// Compiles the ECS templates of `manifests/ecs/` into the `SlipwayAWS` module: what the
/// repository shows is what Slipway renders.
@main
struct EmbedManifests: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "manifests/ecs")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path())
            .filter { $0.hasSuffix(".json") }
            .sorted()
        let inputs = names.map { folder.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedManifests.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(names.count) ECS templates",
                executable: try context.tool(named: "FileEmbedder").url,
                arguments: [output.path(), "EmbeddedManifests"] + inputs.map { $0.path() },
                inputFiles: inputs,
                outputFiles: [output]
            ),
        ]
    }
}
