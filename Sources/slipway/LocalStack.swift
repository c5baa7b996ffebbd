import ArgumentParser
import Foundation
import SlipwaySystem

/// Starts and stops the parts of the embedded default through the same scripts the
/// tests use (`deploy/local/*.sh`), found beside the checkout this binary was built in.
struct LocalStack {
    let scripts: String

    static func locate() throws -> LocalStack {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let given = environment["SLIPWAY_STACK_SCRIPTS"] { candidates.append(given) }
        // The working directory and every folder above the executable (.build/debug/slipway → checkout).
        candidates.append(FileManager.default.currentDirectoryPath + "/deploy/local")
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(folder.appendingPathComponent("deploy/local").path)
            folder.deleteLastPathComponent()
        }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: "\($0)/stack.sh") }) else {
            throw CLIError("cannot find deploy/local/stack.sh; run `slipway dev` from the Slipway checkout or set SLIPWAY_STACK_SCRIPTS")
        }
        return LocalStack(scripts: found)
    }

    /// Runs `script ARGS…` and returns its standard output, trimmed; its standard error passes through.
    @discardableResult
    func run(_ script: String, _ arguments: [String]) throws -> String {
        let result = try Spawn.run("/bin/bash", ["\(scripts)/\(script)"] + arguments)
        guard result.status == 0 else {
            throw CLIError("\(script) \(arguments.joined(separator: " ")) failed (exit \(result.status)); see its message above")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
