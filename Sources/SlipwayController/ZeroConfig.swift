import Foundation
import NIOPosix
import SlipwayCore
import SlipwayDetect
import SlipwayStore

/// A build without a Dockerfile: detect the plan in the checkout, render its Dockerfile
/// beside the code, and keep both with the deployment (its log shows them).
struct ZeroConfig {
    static let dockerfileName = "Dockerfile.slipway"

    let pipeline: Pipeline
    let log: DeploymentLog

    struct Problem: Error, CustomStringConvertible { var description: String }

    /// The generated Dockerfile's name inside the context, or why there is none.
    /// Detection reads `contextDirectory` within `checkout`: links may point anywhere inside
    /// the checkout, none out of it.
    func prepare(_ contextDirectory: String, checkout: String, policy: Policy, deploymentID: Int64) async -> Result<String, Problem> {
        // Railpack reads RAILPACK_* from the build's environment: here the service's env and build args.
        let environment = policy.deploy.env.merging(policy.build.args) { $1 }
        let plan: BuildPlan
        let dockerfile: String
        do {
            let tree = DirectoryTree(root: contextDirectory, rootName: "app", confinedTo: checkout)
            plan = try await NIOThreadPool.singleton.runIfActive { try Detector.plan(tree, environment: environment) }
            guard plan.provider != nil else { return .failure(Problem(description: Detector.nothingDetected)) }
            let images = BaseImages(pipeline.baseImages.merging(policy.build.baseImages) { $1 })
            dockerfile = try DockerfileRenderer.render(plan, images: images)
            // A file of that name in the repository (or a link there) is replaced, never written through.
            let path = "\(contextDirectory)/\(Self.dockerfileName)"
            try? FileManager.default.removeItem(atPath: path)
            try dockerfile.write(toFile: path, atomically: true, encoding: .utf8)
        } catch let error as Detector.Failure {
            return .failure(Problem(description: "zero-config detection failed: \(error.description)"))
        } catch let error as DockerfileRenderer.Missing {
            return .failure(Problem(description: "zero-config build: \(error.description)"))
        } catch {
            return .failure(Problem(description: "zero-config build: cannot write the Dockerfile: \(error)"))
        }
        let json = (try? String(decoding: JSONEncoder.sortedKeys.encode(plan), as: UTF8.self)) ?? "{}"
        await log.log(["zero-config: \(plan.provider!)\(plan.packageManager.map { " with \($0)" } ?? "")\(plan.runtimeVersion.map { ", version \($0)" } ?? ""); start: \(plan.start ?? "-")",
                       "zero-config plan: \(json)", "zero-config Dockerfile (\(Self.dockerfileName)):"]
                      + dockerfile.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "  | \($0)" })
        _ = try? await pipeline.store.addEvent(deploymentID, kind: "detect", key: nil, message: "zero-config: \(plan.provider!)",
                                               detail: ["plan": json, "dockerfile": dockerfile])
        return .success(Self.dockerfileName)
    }
}

extension JSONEncoder {
    static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
