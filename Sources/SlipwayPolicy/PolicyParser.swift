import Foundation
import SlipwayCore
import Yams

/// Turns the YAML of one policy file (one service per document) into policies,
/// or into `file:line:col` diagnostics. Pure: no file system, no network.
public struct PolicyParser: Sendable {
    public var allowLocalRepos: Bool

    public init(allowLocalRepos: Bool) { self.allowLocalRepos = allowLocalRepos }

    static let topKeys = ["service", "source", "build", "image", "deploy", "rollback", "previews"]
    static let sourceKeys = ["repo", "branch", "paths", "poll"]
    static let buildKeys = ["context", "dockerfile", "args", "timeout"]
    static let deployKeys = ["target", "count", "env"]
    static let rollbackKeys = ["window", "crashes"]
    static let previewKeys = ["enabled"]
    /// Keys of an ECS target; named so a docker policy that has them gets a useful message.
    static let ecsKeys = ["cluster", "service", "launchType", "capacityProvider", "cpu", "memory", "port",
                          "healthCheck", "secrets", "executionRoleArn", "taskRoleArn", "subnets",
                          "securityGroups", "assignPublicIp", "logGroup"]
    static let supportedTargets: [Policy.Target] = [.docker]

    public func parse(yaml: String, file: String) -> (policies: [LocatedPolicy], diagnostics: [PolicyDiagnostic]) {
        var reader = NodeReader(file: file)
        var policies: [LocatedPolicy] = []
        do {
            var documents = try Yams.compose_all(yaml: yaml)
            // Iterated in place: the sequence keeps a syntax error in itself instead of throwing.
            while let document = documents.next() {
                if case .scalar = document, document.null != nil { continue }   // an empty document
                if let policy = self.policy(from: document, reader: &reader) {
                    policies.append(LocatedPolicy(policy: policy, file: file, line: document.mark?.line ?? 1))
                }
            }
            if let error = documents.error { throw error }
        } catch let error as YamlError {
            let (line, column, problem) = Self.locate(error)
            reader.report(line: line, column: column, problem)
        } catch {
            reader.report(line: 1, column: 1, "YAML syntax: \(error)")
        }
        if reader.diagnostics.isEmpty, policies.isEmpty {
            reader.report(line: 1, column: 1, "no service declared; a policy file holds one YAML document per service")
        }
        return (reader.diagnostics.isEmpty ? policies : [], reader.diagnostics)
    }

    private func policy(from node: Node, reader: inout NodeReader) -> Policy? {
        let before = reader.diagnostics.count
        guard let top = reader.mapping(node, at: "", allowed: Self.topKeys) else { return nil }
        func required(_ key: String) -> Node? {
            if let value = top[key] { return value }
            reader.report(node, "missing required key `\(key)`")
            return nil
        }

        let service = required("service").flatMap { n -> String? in
            guard let name = reader.nonEmptyString(n, at: "service") else { return nil }
            guard Policy.isValidServiceName(name) else {
                reader.report(n, "service name `\(name)` must match [a-z][a-z0-9-]{0,39}: lowercase letters, digits and dashes, starting with a letter")
                return nil
            }
            return name
        }
        let source = required("source").flatMap { parseSource($0, reader: &reader) }
        let image = required("image").flatMap { parseImage($0, reader: &reader) }
        let build = top["build"].map { parseBuild($0, reader: &reader) } ?? Policy.Build()
        let deploy = top["deploy"].map { parseDeploy($0, reader: &reader) } ?? Policy.Deploy()
        let rollback = top["rollback"].map { parseRollback($0, reader: &reader) } ?? Policy.Rollback()
        var previews = Policy.Previews()
        if let node = top["previews"], let map = reader.mapping(node, at: "previews", allowed: Self.previewKeys) {
            previews.enabled = map["enabled"].flatMap { reader.bool($0, at: "previews.enabled") } ?? false
        }

        guard reader.diagnostics.count == before, let service, let source, let image else { return nil }
        return Policy(service: service, source: source, build: build, image: image,
                      deploy: deploy, rollback: rollback, previews: previews)
    }

    private func parseSource(_ node: Node, reader: inout NodeReader) -> Policy.Source? {
        guard let map = reader.mapping(node, at: "source", allowed: Self.sourceKeys) else { return nil }
        guard let repoNode = map["repo"] else {
            reader.report(node, "missing required key `source.repo`")
            return nil
        }
        guard let repoText = reader.nonEmptyString(repoNode, at: "source.repo") else { return nil }
        let repo: RepoURL
        do {
            repo = try RepoURL(repoText)
        } catch {
            reader.report(repoNode, "`source.repo`: \(error.message)")
            return nil
        }
        if repo.isLocal && !allowLocalRepos {
            reader.report(repoNode, "`source.repo` is a local repository; set SLIPWAY_ALLOW_LOCAL_REPOS=1 to allow file:// and plain paths (on in `slipway dev`)")
        }
        var source = Policy.Source(repo: repoText)
        if let n = map["branch"], let branch = reader.nonEmptyString(n, at: "source.branch") {
            if let problem = GitRefName.problem(branch) {
                reader.report(n, "`source.branch` `\(branch)` \(problem)")
            }
            source.branch = branch
        }
        if let n = map["paths"], let paths = reader.strings(n, at: "source.paths") {
            for path in paths where path.hasPrefix("/") || path.split(separator: "/").contains("..") {
                reader.report(n, "`source.paths` entry `\(path)` must be relative to the repository root, without `..`")
            }
            source.paths = paths
        }
        if let n = map["poll"] {
            // Git hosts rate-limit: 10 s at the least. A local repository costs nothing to look at.
            source.poll = reader.duration(n, at: "source.poll", minimum: repo.isLocal ? .seconds(1) : .seconds(10))
        }
        return source
    }

    private func parseImage(_ node: Node, reader: inout NodeReader) -> String? {
        guard let text = reader.nonEmptyString(node, at: "image") else { return nil }
        do {
            let reference = try ImageReference(parsing: text)
            guard reference.tag == nil, reference.digest == nil else {
                reader.report(node, "`image` names a repository without tag or digest (each build is tagged with its commit SHA); write `\(reference.repository)`")
                return nil
            }
            return reference.repository
        } catch {
            reader.report(node, "`image`: \(error.message)")
            return nil
        }
    }

    private func parseBuild(_ node: Node, reader: inout NodeReader) -> Policy.Build {
        var build = Policy.Build()
        guard let map = reader.mapping(node, at: "build", allowed: Self.buildKeys) else { return build }
        if let n = map["context"], let context = reader.nonEmptyString(n, at: "build.context") {
            if let problem = RepoPath.problem(context) { reader.report(n, "`build.context` `\(context)` \(problem)") }
            build.context = RepoPath.clean(context)
        }
        if let n = map["dockerfile"], let dockerfile = reader.nonEmptyString(n, at: "build.dockerfile") {
            if let problem = RepoPath.problem(dockerfile) { reader.report(n, "`build.dockerfile` `\(dockerfile)` \(problem)") }
            build.dockerfile = RepoPath.clean(dockerfile)
        }
        if let n = map["args"] {
            build.args = reader.stringMap(n, at: "build.args", keyRule: Self.isVariableName,
                                          keyHint: "a build argument name ([A-Za-z_][A-Za-z0-9_]*)") ?? [:]
        }
        if let n = map["timeout"] {
            build.timeout = reader.duration(n, at: "build.timeout", minimum: .seconds(10)) ?? build.timeout
        }
        return build
    }

    private func parseDeploy(_ node: Node, reader: inout NodeReader) -> Policy.Deploy {
        var deploy = Policy.Deploy()
        let why = "applies to `deploy.target: ecs`, which this version does not run yet"
        guard let map = reader.mapping(node, at: "deploy", allowed: Self.deployKeys,
                                       elsewhere: Dictionary(uniqueKeysWithValues: Self.ecsKeys.map { ($0, why) })) else { return deploy }
        if let n = map["target"], let text = reader.nonEmptyString(n, at: "deploy.target") {
            let supported = Self.supportedTargets.map(\.rawValue).joined(separator: ", ")
            if let target = Policy.Target(rawValue: text), Self.supportedTargets.contains(target) {
                deploy.target = target
            } else if Policy.Target(rawValue: text) != nil {
                reader.report(n, "`deploy.target` `\(text)` is not available in this version; supported: \(supported)")
            } else {
                reader.report(n, "`deploy.target` `\(text)` is unknown; supported: \(supported)")
            }
        }
        if let n = map["count"] {
            deploy.count = reader.int(n, at: "deploy.count", range: 1...100) ?? deploy.count
        }
        if let n = map["env"] {
            deploy.env = reader.stringMap(n, at: "deploy.env", keyRule: Self.isVariableName,
                                          keyHint: "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)") ?? [:]
        }
        return deploy
    }

    private func parseRollback(_ node: Node, reader: inout NodeReader) -> Policy.Rollback {
        var rollback = Policy.Rollback()
        guard let map = reader.mapping(node, at: "rollback", allowed: Self.rollbackKeys) else { return rollback }
        if let n = map["window"] {
            rollback.window = reader.duration(n, at: "rollback.window", minimum: .seconds(1)) ?? rollback.window
        }
        if let n = map["crashes"] {
            rollback.crashes = reader.int(n, at: "rollback.crashes", range: 1...1000) ?? rollback.crashes
        }
        return rollback
    }

    static func locate(_ error: YamlError) -> (line: Int, column: Int, message: String) {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let detail = context.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? ""
            return (mark.line, mark.column, "YAML syntax: \(problem)\(detail)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return (context.mark.line, context.mark.column,
                    "duplicate key \(duplicates.map { "`\($0)`" }.joined(separator: ", ")) in one mapping")
        default:
            return (1, 1, "YAML: \(error)")
        }
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
