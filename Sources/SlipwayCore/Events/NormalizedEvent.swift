/// A webhook from any provider, reduced to what Slipway acts on. The JSON form is the
/// contract `slipway events parse` prints: every key is present, `null` where it does not apply.
public struct NormalizedEvent: Sendable, Hashable, Codable {
    public enum Provider: String, Sendable, Hashable, Codable {
        case github, gitlab, bitbucket
        case bitbucketServer = "bitbucket-server"
        /// Found by polling the remote's heads (`source.poll`); never a webhook.
        case poll
    }

    public enum Kind: String, Sendable, Hashable, Codable {
        case push, tag
        case pullRequest = "pull_request"
        case ping, ignored
    }

    public struct Repository: Sendable, Hashable, Codable {
        public var fullName: String?
        public var cloneURL: String?
        /// The repository's other addresses in the payload (ssh, git://…): a policy may
        /// name any of them. Not part of the printed contract.
        public var otherURLs: [String] = []

        public init(fullName: String?, cloneURL: String?, otherURLs: [String] = []) {
            self.fullName = fullName
            self.cloneURL = cloneURL
            self.otherURLs = otherURLs.filter { $0 != cloneURL }
        }

        /// Every address the payload gives for the repository, the clone URL first.
        public var urls: [String] { (cloneURL.map { [$0] } ?? []) + otherURLs }

        private enum CodingKeys: String, CodingKey { case fullName, cloneURL }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(fullName, forKey: .fullName)
            try c.encode(cloneURL, forKey: .cloneURL)
        }
    }

    public struct PullRequest: Sendable, Hashable, Codable {
        public enum Action: String, Sendable, Hashable, Codable {
            case opened, updated, closed, merged, reopened
        }
        public var number: Int
        public var action: Action
        public var headBranch: String?
        public var headSHA: String?
        public var baseBranch: String?
        public var headCloneURL: String?

        public init(number: Int, action: Action, headBranch: String?, headSHA: String?,
                    baseBranch: String?, headCloneURL: String?) {
            self.number = number
            self.action = action
            self.headBranch = headBranch
            self.headSHA = headSHA
            self.baseBranch = baseBranch
            self.headCloneURL = headCloneURL
        }

        private enum CodingKeys: String, CodingKey {
            case number, action, headBranch, headSHA, baseBranch, headCloneURL
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(number, forKey: .number)
            try c.encode(action, forKey: .action)
            try c.encode(headBranch, forKey: .headBranch)
            try c.encode(headSHA, forKey: .headSHA)
            try c.encode(baseBranch, forKey: .baseBranch)
            try c.encode(headCloneURL, forKey: .headCloneURL)
        }
    }

    public var provider: Provider
    public var kind: Kind
    public var deliveryID: String?
    public var repository: Repository?
    public var ref: String?
    public var branch: String?
    public var tag: String?
    public var before: String?
    public var after: String?
    public var deleted: Bool?
    public var pullRequest: PullRequest?
    /// The provider's own event name (`push`, `issues`, …); not part of the printed contract.
    public var event: String
    /// Why the event is `ignored`, when it is.
    public var ignoredReason: String?
    /// The files a push changed, when the payload lists all of them; nil when they must be
    /// computed with git (Bitbucket, truncated lists, forced pushes). Not printed.
    public var changedPaths: [String]? = nil
    /// Every change of a body that carries several (Bitbucket pushes), this one first.
    /// Printed only when there is more than one.
    public var changes: [NormalizedEvent]? = nil

    public init(provider: Provider, kind: Kind, event: String, deliveryID: String? = nil,
                repository: Repository? = nil, ref: String? = nil, branch: String? = nil,
                tag: String? = nil, before: String? = nil, after: String? = nil,
                deleted: Bool? = nil, pullRequest: PullRequest? = nil, ignoredReason: String? = nil) {
        self.provider = provider
        self.kind = kind
        self.event = event
        self.deliveryID = deliveryID
        self.repository = repository
        self.ref = ref
        self.branch = branch
        self.tag = tag
        self.before = before
        self.after = after
        self.deleted = deleted
        self.pullRequest = pullRequest
        self.ignoredReason = ignoredReason
    }

    private enum CodingKeys: String, CodingKey {
        case provider, kind, deliveryID, repository, ref, branch, tag, before, after, deleted, pullRequest
        case event, ignoredReason, changes
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(provider, forKey: .provider)
        try c.encode(kind, forKey: .kind)
        try c.encode(deliveryID, forKey: .deliveryID)
        try c.encode(repository, forKey: .repository)
        try c.encode(ref, forKey: .ref)
        try c.encode(branch, forKey: .branch)
        try c.encode(tag, forKey: .tag)
        try c.encode(before, forKey: .before)
        try c.encode(after, forKey: .after)
        try c.encode(deleted, forKey: .deleted)
        try c.encode(pullRequest, forKey: .pullRequest)
        try c.encode(event, forKey: .event)
        try c.encode(ignoredReason, forKey: .ignoredReason)
        if let changes, changes.count > 1 {
            try c.encode(changes.map { var one = $0; one.changes = nil; return one }, forKey: .changes)
        }
    }
}
