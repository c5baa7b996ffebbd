import Foundation

/// The head of a pull request a preview deploys: what the webhook said, checked.
public struct PullRequestHead: Sendable, Hashable, Codable {
    public var number: Int
    /// The source branch (as the provider names it; may hold unicode or be long).
    public var branch: String?
    /// As the webhook gave it: 7 to 64 hex digits (Bitbucket Cloud sends 12).
    public var sha: String
    /// The head lives in another repository than the one the policy deploys.
    public var fork: Bool

    public init(number: Int, branch: String?, sha: String, fork: Bool) {
        self.number = number
        self.branch = branch
        self.sha = sha
        self.fork = fork
    }
}

/// Pull-request previews: every rule about them, in one place and pure.
public enum PreviewRules {
    /// PR numbers past this are refused: every provider's ids fit in 32 bits, and names built from them stay short.
    public static let maxNumber = Int(Int32.max)
    public static let placeholders = ["number", "service", "branch"]

    /// Why an event's pull request cannot have a preview at all, if it cannot.
    public static func refusal(number: Int) -> String? {
        guard (1...maxNumber).contains(number) else {
            return "pull request number \(number) is out of range (1 to \(maxNumber)); no preview"
        }
        return nil
    }

    /// Whether a pull request's head is in another repository: its clone URL names another
    /// repository than the event's. A head repository the event does not name (GitHub sends
    /// `head.repo: null` once a fork is deleted) or that is not a URL counts as a fork: what
    /// cannot be shown to be the repository itself is not trusted as it.
    public static func isFork(headCloneURL: String?, repositoryURLs: [String]) -> Bool {
        guard let head = headCloneURL, let headKey = try? RepoURL(head).key else { return true }
        let keys = Set(repositoryURLs.compactMap { try? RepoURL($0).key })
        return !keys.contains(headKey)
    }

    /// Where a pull request's head is fetched from: the provider's pull-request ref on the
    /// repository itself where it has one, else the source branch (of the fork, when the
    /// head lives in one). `url` nil means the repository the policy names.
    public static func headRef(provider: NormalizedEvent.Provider, number: Int, branch: String?, fork: Bool,
                               headCloneURL: String?) -> (ref: String, url: String?)? {
        switch provider {
        case .github: return ("refs/pull/\(number)/head", nil)
        case .gitlab: return ("refs/merge-requests/\(number)/head", nil)
        case .bitbucketServer: return ("refs/pull-requests/\(number)/from", nil)
        case .bitbucket, .poll:
            guard let branch else { return nil }
            return ("refs/heads/\(branch)", fork ? headCloneURL : nil)
        }
    }

    /// The fallback when the pull-request ref is missing (a provider that has not made it yet):
    /// the source branch, of the repository itself only.
    public static func branchRef(branch: String?, fork: Bool) -> String? {
        guard let branch, !fork else { return nil }
        return "refs/heads/\(branch)"
    }

    /// Where the mirror keeps a fetched head, so later branch fetches (which prune) keep its commits.
    public static func localRef(number: Int) -> String { "refs/slipway/pull/\(number)" }

    /// The image tag of a preview's build: never the bare SHA that the main line's build of
    /// the same commit pushes (a fork's build may differ from it).
    public static func imageTag(number: Int, sha: String) -> String { "pr-\(number)-\(sha)" }

    /// Which full SHA the event's head names, given what the fetched ref points at: the ref's
    /// own commit when the event's (possibly 12-character) hash is its prefix, else nil (the
    /// caller resolves the hash in the mirror: an older head of a ref that moved on).
    public static func fullSHA(eventHead: String, refHead: String) -> String? {
        refHead.hasPrefix(eventHead.lowercased()) ? refHead : nil
    }

    // MARK: Names

    /// `name` cut to `limit` characters, its end replaced by a stable hash of the whole so
    /// two long names never meet (`very-long-service-pr-42` → `very-long-s-3f9a1c2b-pr-42`).
    /// The `-pr-N` suffix is kept, so a name still says which pull request it is.
    public static func shortened(_ name: String, limit: Int) -> String {
        guard name.count > limit else { return name }
        let hash = String(fnv1a(name) & 0xffff_ffff, radix: 16)
        let padded = String(repeating: "0", count: 8 - hash.count) + hash
        var suffix = ""
        if let range = name.range(of: "-pr-", options: .backwards) { suffix = String(name[range.lowerBound...]) }
        let keep = max(0, limit - padded.count - suffix.count - 1)
        var head = String(name.prefix(keep))
        while head.hasSuffix("-") { head.removeLast() }
        return String((head.isEmpty ? padded : "\(head)-\(padded)") + suffix).prefix(limit).description
    }

    /// A DNS label from any text (a branch name): lower case `[a-z0-9-]`, at most `limit`.
    public static func slug(_ text: String, limit: Int = 63) -> String {
        var out = ""
        for scalar in text.lowercased().unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else if !out.hasSuffix("-") {
                out.append("-")
            }
        }
        out = out.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        if out.isEmpty { return "branch" }
        return out.count > limit ? shortened(out, limit: limit) : out
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    // MARK: URL

    /// What is wrong with a `previews.url` template, if anything.
    public static func templateProblem(_ template: String) -> String? {
        var rest = Substring(template)
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            guard rest[open] == "{", let close = rest[open...].firstIndex(of: "}") else {
                return "`\(template)` has an unmatched `\(rest[open])`; placeholders are written {number}, {service}, {branch}"
            }
            let name = String(rest[rest.index(after: open)..<close])
            guard placeholders.contains(name) else {
                let hint = EditDistance.suggestion(for: name, among: placeholders).map { " (did you mean {\($0)}?)" } ?? ""
                return "unknown placeholder {\(name)}\(hint); a preview URL may use {number}, {service} and {branch}"
            }
            rest = rest[rest.index(after: close)...]
        }
        guard template.hasPrefix("https://") || template.hasPrefix("http://") else {
            return "`\(template)` is not an http(s) URL, as in https://pr-{number}.{service}.preview.example.com"
        }
        return nil
    }

    /// The template filled in; the branch as a DNS label.
    public static func url(template: String, number: Int, service: String, branch: String?) -> String {
        template.replacingOccurrences(of: "{number}", with: "\(number)")
            .replacingOccurrences(of: "{service}", with: service)
            .replacingOccurrences(of: "{branch}", with: slug(branch ?? "pr-\(number)"))
    }

    // MARK: The policy a preview runs under

    /// The service's policy as its preview of `head` deploys it: `previews.env` over
    /// `deploy.env` plus `SLIPWAY_PREVIEW`, `SLIPWAY_PR_NUMBER`, `SLIPWAY_PR_BRANCH`; for a
    /// fork without `previews.forkSecrets`, no build args, build secrets, ECS secrets or task role.
    public static func policy(_ base: Policy, head: PullRequestHead) -> Policy {
        var policy = base
        var env = base.deploy.env.merging(base.previews.env) { _, preview in preview }
        env["SLIPWAY_PREVIEW"] = "1"
        env["SLIPWAY_PR_NUMBER"] = "\(head.number)"
        env["SLIPWAY_PR_BRANCH"] = head.branch ?? ""
        policy.deploy.env = env
        if head.fork && !base.previews.forkSecrets {
            policy.build.args = [:]
            policy.build.secrets = [:]
            policy.deploy.ecs?.secrets = [:]
            // The task role could read what the secrets named: a fork's code runs without it.
            policy.deploy.ecs?.taskRoleArn = nil
        }
        return policy
    }

    /// The name a declared service must not have: it would be another service's preview.
    /// Returns the service whose preview it would be.
    public static func collision(_ name: String, previewing services: [String: Bool]) -> String? {
        guard let range = name.range(of: "-pr-", options: .backwards) else { return nil }
        let number = name[range.upperBound...]
        guard !number.isEmpty, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber) else { return nil }
        let base = String(name[..<range.lowerBound])
        return services[base] == true ? base : nil
    }
}
