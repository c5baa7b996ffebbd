import ArgumentParser
import Foundation
import SlipwayCore
import SlipwayDetect

struct DetectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Zero-config detection: the build plan Slipway makes for a folder without a Dockerfile.",
        discussion: """
            Reads the folder the way Railpack does (providers \(Detector.providerNames.joined(separator: ", "))), \
            with railpack.json, a Procfile and RAILPACK_* variables from the environment. Exit 1 when nothing is detected.
            """)

    @Argument(help: "The app's folder (a checkout).")
    var directory: String

    @Flag(help: "Print the plan as JSON: provider, packageManager, runtimeVersion, install, build, start, and more.")
    var json = false

    @Flag(help: "Print the Dockerfile Slipway would build.")
    var dockerfile = false

    @Option(name: .customLong("base-image"), help: "TOOL=IMAGE (e.g. node=mirror.internal/node:{version}); repeatable. Default: SLIPWAY_BASE_IMAGES, then the official images.")
    var baseImages: [String] = []

    func run() async throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("\(directory) is not a folder; give the app's checkout")
        }
        let environment = ProcessInfo.processInfo.environment
        let plan: BuildPlan
        do {
            plan = try Detector.plan(DirectoryTree(root: directory), environment: environment)
        } catch {
            throw CLIError(error.description)
        }
        if json {
            try printJSON(plan)
        } else if dockerfile {
            var overrides = BaseImages.parse(environment["SLIPWAY_BASE_IMAGES"] ?? "")
            overrides.merge(BaseImages.parse(baseImages.joined(separator: ","))) { $1 }
            do {
                print(try DockerfileRenderer.render(plan, images: BaseImages(overrides)), terminator: "")
            } catch {
                throw CLIError(error.description)
            }
        } else {
            print(Terminal.printable(DetectText.render(plan), newlines: true))
        }
        if plan.provider == nil {
            if json || dockerfile { printError(DetectText.nothingDetected) }
            throw ExitCode(1)
        }
    }
}

enum DetectText {
    static var nothingDetected: String { Detector.nothingDetected }

    static func render(_ plan: BuildPlan) -> String {
        guard let provider = plan.provider else { return nothingDetected }
        var lines = ["provider         \(provider)"]
        if let pm = plan.packageManager { lines.append("package manager  \(pm)") }
        if let version = plan.runtimeVersion { lines.append("runtime version  \(version)") }
        if !plan.install.isEmpty { lines.append("install          " + plan.install.joined(separator: "\n                 ")) }
        if !plan.build.isEmpty { lines.append("build            " + plan.build.joined(separator: "\n                 ")) }
        lines.append("start            \(plan.start ?? "(none: set deploy.startCommand in railpack.json, or a Procfile web: line)")")
        if let root = plan.staticRoot { lines.append("serves           \(root) (static)") }
        return lines.joined(separator: "\n")
    }
}
