import SlipwayCore
import Yams

extension PolicyParser {
    func parseSource(_ node: Node, holder: Node?, reader: inout NodeReader) -> Policy.Source? {
        guard let map = reader.mapping(node, at: "source", holder: holder, allowed: Self.sourceKeys) else { return nil }
        guard let repoNode = reader.required(map, "repo", hint: ", the repository to build, as in https://github.com/acme/shop.git"),
              let repoText = reader.nonEmptyString(repoNode, at: "source.repo") else { return nil }
        guard let repo = checkRepo(repoText, node: repoNode, reader: &reader) else { return nil }
        var source = Policy.Source(repo: repoText)
        if let n = map["branch"], let branch = reader.nonEmptyString(n, at: "source.branch") {
            if let problem = GitRefName.problem(branch) {
                reader.report(n, "`source.branch` `\(branch)` \(problem)")
            }
            source.branch = branch
        }
        if let n = map["paths"], let paths = reader.list(n, at: "source.paths", example: "[\"services/web/**\"]") {
            for (index, entry) in paths.enumerated() where entry.text.hasPrefix("/") || entry.text.split(separator: "/").contains("..") {
                reader.report(entry.node, "`source.paths[\(index)]` `\(entry.text)` must be relative to the repository root, without `..`")
            }
            source.paths = paths.map(\.text)
        }
        if let n = map["poll"] {
            // Git hosts rate-limit: 10 s at the least. A local repository costs nothing to look at.
            let minimum: TimeSpan = repo.isLocal ? .seconds(1) : .seconds(10)
            source.poll = reader.duration(n, at: "source.poll", range: minimum...TimeSpan.hours(24))
        }
        if let n = map["credentials"] {
            source.credentials = secretReference(n, at: "source.credentials", reader: &reader)
        }
        if let n = map["keyPassphrase"] {
            source.keyPassphrase = secretReference(n, at: "source.keyPassphrase", reader: &reader)
            if map["credentials"] == nil {
                reader.report(n, "`source.keyPassphrase` unlocks the SSH key in `source.credentials`, which is not set")
            } else if repo.transport != .ssh {
                reader.report(n, "`source.keyPassphrase` is for an SSH key, but `source.repo` is not an ssh:// or git@host:path address")
            }
        }
        if let n = map["knownHosts"], let text = reader.nonEmptyString(n, at: "source.knownHosts") {
            if let problem = KnownHostsText.problem(text) {
                reader.report(n, "`source.knownHosts`: \(problem)")
            } else if repo.transport != .ssh {
                reader.report(n, "`source.knownHosts` checks an ssh server's host key, but `source.repo` is not an ssh:// or git@host:path address")
            } else {
                source.knownHosts = text
            }
        }
        if let n = map["webhookSecret"], let reference = secretReference(n, at: "source.webhookSecret", reader: &reader) {
            if case .aws = reference {
                reader.report(n, "`source.webhookSecret` is read on every webhook: name it with env: or file:, not an AWS ARN")
            } else {
                source.webhookSecret = reference
            }
        }
        return source
    }

    private func checkRepo(_ text: String, node: Node, reader: inout NodeReader) -> RepoURL? {
        let repo: RepoURL
        do {
            repo = try RepoURL(text)
        } catch {
            reader.report(node, "`source.repo`: \(error.message)")
            return nil
        }
        switch repo.transport {
        case .local where !allowLocalRepos:
            reader.report(node, "`source.repo` is a local repository; set SLIPWAY_ALLOW_LOCAL_REPOS=1 to allow file:// and plain paths (on in `slipway dev`)")
            return nil
        case .http:
            reader.report(node, "`source.repo` uses plain http://, which anyone on the way can alter; use https:// or ssh://")
            return nil
        case .https where Self.hasUserInfo(text):
            reader.report(node, "`source.repo` carries credentials in the URL, where logs and the dashboard would show them; name them in `source.credentials` instead")
            return nil
        default:
            return repo
        }
    }

    static func hasUserInfo(_ url: String) -> Bool {
        guard let schemeEnd = url.range(of: "://") else { return false }
        return url[schemeEnd.upperBound...].prefix(while: { $0 != "/" }).contains("@")
    }

    func secretReference(_ node: Node, at path: String, reader: inout NodeReader) -> SecretReference? {
        guard let text = reader.nonEmptyString(node, at: path) else { return nil }
        let reference: SecretReference
        do {
            reference = try SecretReference(parsing: text)
        } catch {
            reader.report(node, "`\(path)`: \(error.message)")
            return nil
        }
        if let problem = secretRules.problem(reference) {
            reader.report(node, "`\(path)`: \(problem)")
            return nil
        }
        return reference
    }
}
