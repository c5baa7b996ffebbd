import Foundation
import SlipwayCore
import Yams

/// Turns the YAML of one policy file (one service per document) into policies,
/// or into `file:line:col` diagnostics (docs/policies.md says where each points).
/// Pure: no file system, no network.
public struct PolicyParser: Sendable {
    public var allowLocalRepos: Bool
    /// Which `env:` and `file:` references a policy may make.
    public var secretRules: SecretRules

    public init(allowLocalRepos: Bool, secretRules: SecretRules = .standard(dataDirectory: nil)) {
        self.allowLocalRepos = allowLocalRepos
        self.secretRules = secretRules
    }

    static let topKeys = ["service", "source", "build", "image", "imageCredentials", "deploy", "rollback", "previews", "sync", "notify"]
    static let sourceKeys = ["repo", "branch", "paths", "poll", "credentials", "keyPassphrase", "knownHosts", "webhookSecret"]
    static let buildKeys = ["context", "dockerfile", "args", "secrets", "target", "timeout", "cache", "baseImages", "platform"]
    static let rollbackKeys = ["window", "crashes"]
    static let previewKeys = ["enabled", "ttl", "count", "env", "forks", "forkSecrets", "url", "loadBalancer"]
    static let loadBalancerKeys = ["listenerArn", "priorities", "healthCheckPath", "vpcId"]
    static let syncKeys = ["selfHeal", "prune"]

    /// All or nothing: no policy of a file with any error.
    public func parse(yaml: String, file: String) -> (policies: [LocatedPolicy], diagnostics: [PolicyDiagnostic]) {
        let result = parseDocuments(yaml: yaml, file: file)
        return (result.diagnostics.isEmpty ? result.policies : [], result.diagnostics)
    }

    /// Every document that is valid on its own, and every diagnostic: the loader checks
    /// names across files even when some other document of a file is wrong.
    func parseDocuments(yaml: String, file: String) -> (policies: [LocatedPolicy], diagnostics: [PolicyDiagnostic]) {
        var reader = NodeReader(file: file)
        var policies: [LocatedPolicy] = []
        do {
            var documents = try Yams.compose_all(yaml: yaml)
            // Iterated in place: the sequence keeps a syntax error in itself instead of throwing.
            while let document = documents.next() {
                if NodeReader.isNull(document) { continue }   // an empty document
                if let problem = YAMLBudget.problem(document) {
                    reader.report(line: document.mark?.line ?? 1, column: document.mark?.column ?? 1, problem)
                    continue
                }
                if let policy = self.policy(from: document, reader: &reader) { policies.append(policy) }
            }
            if let error = documents.error { throw error }
        } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            let key = duplicates.first ?? "?"
            let place = DuplicateKeys.locate(key: key, first: (context.mark.line, context.mark.column), in: yaml)
            reader.report(line: place.line, column: place.column,
                          "duplicate key `\(place.path)`: it is already set at line \(context.mark.line); keep one")
        } catch let error as YamlError {
            let (line, column, problem) = Self.locate(error)
            reader.report(line: line, column: column, problem)
        } catch {
            reader.report(line: 1, column: 1, "YAML syntax: \(error)")
        }
        if reader.diagnostics.isEmpty, policies.isEmpty {
            reader.report(line: 1, column: 1, "no service declared; a policy file holds one YAML document per service")
        }
        let duplicates = PolicyLoader.duplicateNames(policies)
        let diagnostics = (reader.diagnostics + duplicates).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        return (policies, diagnostics)
    }

    private func policy(from node: Node, reader: inout NodeReader) -> LocatedPolicy? {
        let before = reader.diagnostics.count
        guard let top = reader.mapping(node, at: "", holder: nil, allowed: Self.topKeys) else { return nil }

        let serviceNode = reader.required(top, "service")
        let service = serviceNode.flatMap { n -> String? in
            guard let name = reader.nonEmptyString(n, at: "service") else { return nil }
            guard Policy.isValidServiceName(name) else {
                reader.report(n, "`service` name `\(name)` must match [a-z][a-z0-9-]{0,39}: lowercase letters, digits and dashes, starting with a letter")
                return nil
            }
            return name
        }
        let sourceNode = reader.required(top, "source")
        let source = sourceNode.flatMap { parseSource($0, holder: top.keys["source"], reader: &reader) }
        let image = reader.required(top, "image").flatMap { parseImage($0, reader: &reader) }
        let build = top["build"].map { parseBuild($0, holder: top.keys["build"], reader: &reader) } ?? Policy.Build()
        let deploy = top["deploy"].map { parseDeploy($0, holder: top.keys["deploy"], reader: &reader) } ?? Policy.Deploy()
        let rollback = top["rollback"].map { parseRollback($0, holder: top.keys["rollback"], reader: &reader) } ?? Policy.Rollback()
        let previews = top["previews"].map { parsePreviews($0, holder: top.keys["previews"], deploy: deploy, reader: &reader) } ?? Policy.Previews()
        let sync = top["sync"].map { parseSync($0, holder: top.keys["sync"], reader: &reader) } ?? Policy.Sync()
        let imageCredentials = top["imageCredentials"].flatMap { secretReference($0, at: "imageCredentials", reader: &reader) }
        let notify = top["notify"].flatMap { parseNotify($0, holder: top.keys["notify"], reader: &reader) }

        guard reader.diagnostics.count == before, let service, let source, let image, let serviceNode else { return nil }
        let policy = Policy(service: service, source: source, build: build, image: image,
                            deploy: deploy, rollback: rollback, previews: previews, sync: sync, imageCredentials: imageCredentials,
                            notify: notify)
        return LocatedPolicy(policy: policy, file: reader.file, line: serviceNode.mark?.line ?? 1,
                             column: serviceNode.mark?.column ?? 1)
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

    private func parseRollback(_ node: Node, holder: Node?, reader: inout NodeReader) -> Policy.Rollback {
        var rollback = Policy.Rollback()
        guard let map = reader.mapping(node, at: "rollback", holder: holder, allowed: Self.rollbackKeys) else { return rollback }
        if let n = map["window"] {
            rollback.window = reader.duration(n, at: "rollback.window", range: .seconds(1)...TimeSpan.hours(24)) ?? rollback.window
        }
        if let n = map["crashes"] {
            rollback.crashes = reader.int(n, at: "rollback.crashes", range: 1...1000) ?? rollback.crashes
        }
        return rollback
    }

    private func parsePreviews(_ node: Node, holder: Node?, deploy: Policy.Deploy, reader: inout NodeReader) -> Policy.Previews {
        var previews = Policy.Previews()
        guard let map = reader.mapping(node, at: "previews", holder: holder, allowed: Self.previewKeys) else { return previews }
        if let n = map["enabled"] { previews.enabled = reader.bool(n, at: "previews.enabled") ?? false }
        if let n = map["ttl"] {
            previews.ttl = reader.duration(n, at: "previews.ttl", range: .minutes(1)...TimeSpan.hours(90 * 24)) ?? previews.ttl
        }
        if let n = map["count"] { previews.count = reader.int(n, at: "previews.count", range: 1...100) ?? previews.count }
        if let n = map["env"] {
            previews.env = reader.variables(n, at: "previews.env", what: "an environment variable") ?? [:]
            for name in previews.env.keys where name.hasPrefix("SLIPWAY_") {
                reader.report(n, "`previews.env` sets `\(name)`; SLIPWAY_PREVIEW, SLIPWAY_PR_NUMBER and SLIPWAY_PR_BRANCH are set by Slipway, and SLIPWAY_* names are kept for it")
            }
        }
        if let n = map["forks"] { previews.forks = reader.bool(n, at: "previews.forks") ?? false }
        if let n = map["forkSecrets"] {
            previews.forkSecrets = reader.bool(n, at: "previews.forkSecrets") ?? false
            if previews.forkSecrets && !previews.forks {
                reader.report(map.keys["forkSecrets"], "`previews.forkSecrets` is true but `previews.forks` is not: fork pull requests are not built, so there is nothing to give secrets to; set `forks: true` or remove `forkSecrets`")
            }
        }
        if let n = map["url"], let text = reader.nonEmptyString(n, at: "previews.url") {
            if let problem = PreviewRules.templateProblem(text) {
                reader.report(n, "`previews.url`: \(problem)")
            } else {
                previews.url = text
            }
        }
        if let n = map["loadBalancer"] {
            previews.loadBalancer = parseLoadBalancer(n, holder: map.keys["loadBalancer"], reader: &reader)
            let key = map.keys["loadBalancer"]
            if deploy.target != .ecs {
                reader.report(key, "`previews.loadBalancer` is for the ecs target (an ALB listener); on docker a preview is reached at its container or `previews.url`")
            } else if map["url"] == nil {
                reader.report(key, "`previews.loadBalancer` needs `previews.url`: its listener rule matches the preview URL's host")
            } else if deploy.port == nil {
                reader.report(key, "`previews.loadBalancer` needs `deploy.port`: the preview's target group forwards to it")
            }
        }
        return previews
    }

    private func parseLoadBalancer(_ node: Node, holder: Node?, reader: inout NodeReader) -> Policy.Previews.LoadBalancer? {
        guard let map = reader.mapping(node, at: "previews.loadBalancer", holder: holder, allowed: Self.loadBalancerKeys) else { return nil }
        let before = reader.diagnostics.count
        var listener = ""
        if let n = reader.required(map, "listenerArn", hint: ", as in arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"),
           let text = reader.nonEmptyString(n, at: "previews.loadBalancer.listenerArn") {
            if text.hasPrefix("arn:") && text.contains(":listener/") { listener = text } else {
                reader.report(n, "`previews.loadBalancer.listenerArn` `\(Terminal.printable(text, limit: 80))` is not a listener ARN (arn:…:elasticloadbalancing:…:listener/…)")
            }
        }
        var balancer = Policy.Previews.LoadBalancer(listenerArn: listener)
        if let n = map["priorities"], let text = reader.nonEmptyString(n, at: "previews.loadBalancer.priorities") {
            let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            if parts.count == 2, let low = parts[0], let high = parts[1], 1 <= low, low <= high, high <= 50000 {
                balancer.priorities = low...high
            } else {
                reader.report(n, "`previews.loadBalancer.priorities` is `\(Terminal.printable(text, limit: 40))`; write a range of rule priorities within 1–50000, as in `1000-1999`")
            }
        }
        if let n = map["healthCheckPath"], let text = reader.nonEmptyString(n, at: "previews.loadBalancer.healthCheckPath") {
            if text.hasPrefix("/") { balancer.healthCheckPath = text } else {
                reader.report(n, "`previews.loadBalancer.healthCheckPath` must start with `/`, as in `/healthz`")
            }
        }
        if let n = map["vpcId"], let text = reader.nonEmptyString(n, at: "previews.loadBalancer.vpcId") {
            if text.hasPrefix("vpc-") { balancer.vpcId = text } else {
                reader.report(n, "`previews.loadBalancer.vpcId` `\(Terminal.printable(text, limit: 40))` is not a VPC id (vpc-…)")
            }
        }
        return reader.diagnostics.count == before ? balancer : nil
    }

    private func parseSync(_ node: Node, holder: Node?, reader: inout NodeReader) -> Policy.Sync {
        var sync = Policy.Sync()
        guard let map = reader.mapping(node, at: "sync", holder: holder, allowed: Self.syncKeys) else { return sync }
        if let n = map["selfHeal"] { sync.selfHeal = reader.bool(n, at: "sync.selfHeal") ?? false }
        if let n = map["prune"] { sync.prune = reader.bool(n, at: "sync.prune") ?? false }
        return sync
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
}

extension TimeSpan {
    static func hours(_ h: Int64) -> TimeSpan { .minutes(h * 60) }
}
