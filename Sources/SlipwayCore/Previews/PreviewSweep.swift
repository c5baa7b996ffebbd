import Foundation

/// One preview as the status contract shows it.
public struct PreviewStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        case building
        case rollingOut = "rolling_out"
        case live
        case failed
        case tornDown = "torn_down"

        /// From the preview's record: closed is torn down (or on its way); open is what its
        /// newest deployment says, or live while a rollback left an earlier commit running.
        public static func of(open: Bool, newest: DeploymentState?, hasLive: Bool) -> State {
            guard open else { return .tornDown }
            switch newest {
            case .queued?, .building?, .pushing?: return .building
            case .rollingOut?: return .rollingOut
            case .watching?, .succeeded?: return .live
            case .failed?, .rolledBack?, .cancelled?, .superseded?, nil: return hasLive ? .live : (newest == nil ? .building : .failed)
            }
        }
    }

    public var number: Int
    /// The preview's own name (`web-pr-42`).
    public var service: String
    public var branch: String?
    public var sha: String?
    public var state: State
    public var url: String?
    public var updatedAt: Date
    /// Why it was torn down, once it was. Not in the printed contract's required keys.
    public var reason: String?
    /// The declared service it previews (`web`); not printed.
    public var of: String
    /// The pull request's head and what the preview runs (not printed; `plan` compares them).
    public var headSHA: String?
    public var liveSHA: String?
    /// Why its newest deployment failed or was rolled back (not printed; the pull request's comment shows it).
    public var failure: String?
    /// Whether its runtime resources are gone (not printed).
    public var tornDown = false

    public init(number: Int, service: String, branch: String?, sha: String?, state: State, url: String?, updatedAt: Date,
                reason: String? = nil, of base: String? = nil) {
        self.of = base ?? service
        self.number = number
        self.service = service
        self.branch = branch
        self.sha = sha
        self.state = state
        self.url = url
        self.updatedAt = updatedAt
        self.reason = reason
    }

    private enum CodingKeys: String, CodingKey { case number, service, branch, sha, state, url, updatedAt, reason }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        number = try c.decode(Int.self, forKey: .number)
        service = try c.decode(String.self, forKey: .service)
        branch = try c.decodeIfPresent(String.self, forKey: .branch)
        sha = try c.decodeIfPresent(String.self, forKey: .sha)
        state = try c.decode(State.self, forKey: .state)
        url = try c.decodeIfPresent(String.self, forKey: .url)
        updatedAt = try c.decode(Date.self, forKey: .updatedAt)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        of = service
    }

    /// Every key printed, `null` where it does not apply.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(number, forKey: .number)
        try c.encode(service, forKey: .service)
        try c.encode(branch, forKey: .branch)
        try c.encode(sha, forKey: .sha)
        try c.encode(state, forKey: .state)
        try c.encode(url, forKey: .url)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(reason, forKey: .reason)
    }

    /// Open ones first, then newest first.
    public static func ordered(_ previews: [PreviewStatus]) -> [PreviewStatus] {
        previews.sorted { a, b in
            let (aOpen, bOpen) = (a.state != .tornDown, b.state != .tornDown)
            if aOpen != bOpen { return aOpen }
            return a.number > b.number
        }
    }
}

/// Which previews must go, decided from what the database and the runtime say: closed or
/// merged pull requests, previews idle past `previews.ttl`, previews over `previews.count`
/// (the oldest first), previews of services whose policy no longer allows them, and
/// whatever a runtime runs as a preview that no open preview accounts for. The reconcile
/// loop asks this every pass, so a missed close webhook or a crash half-way through a
/// teardown leaves nothing behind.
public enum PreviewSweep {
    /// A preview the database holds open.
    public struct Open: Sendable, Hashable {
        public var service: String
        public var number: Int
        public var openedAt: Date
        /// Its last new commit.
        public var updatedAt: Date
        public init(service: String, number: Int, openedAt: Date, updatedAt: Date) {
            self.service = service
            self.number = number
            self.openedAt = openedAt
            self.updatedAt = updatedAt
        }
        public var target: DeploymentTarget { DeploymentTarget(service: service, environment: .pullRequest(number)) }
    }

    public struct Closure: Sendable, Hashable {
        public var target: DeploymentTarget
        public var reason: String
        /// The open preview as the sweep saw it (idle, over the count, switched off): closed only
        /// if it has not been reopened or given a commit since. nil: a leftover, torn down only
        /// while no open preview accounts for it.
        public var seen: Open?
        public init(target: DeploymentTarget, reason: String, seen: Open? = nil) {
            self.target = target
            self.reason = reason
            self.seen = seen
        }
    }

    /// Open previews to close. `policies`: the previews settings of every declared service.
    public static func closures(open: [Open], policies: [String: Policy.Previews], now: Date) -> [Closure] {
        var out: [Closure] = []
        let byService = Dictionary(grouping: open, by: \.service)
        for service in byService.keys.sorted() {
            let previews = byService[service]!.sorted { ($0.openedAt, $0.number) < ($1.openedAt, $1.number) }
            guard let settings = policies[service] else {
                out += previews.map { Closure(target: $0.target, reason: "the service \(service) is no longer declared by a policy", seen: $0) }
                continue
            }
            guard settings.enabled else {
                out += previews.map { Closure(target: $0.target, reason: "previews.enabled is false for \(service)", seen: $0) }
                continue
            }
            var kept: [Open] = []
            for preview in previews {
                let idle = now.timeIntervalSince(preview.updatedAt)
                if idle >= Double(settings.ttl.milliseconds) / 1000 {
                    out.append(Closure(target: preview.target,
                                       reason: "no new commit for \(settings.ttl) (previews.ttl); last at \(ISO8601.format(preview.updatedAt))",
                                       seen: preview))
                } else {
                    kept.append(preview)
                }
            }
            out += overCount(kept, count: settings.count)
        }
        return out
    }

    /// The oldest open previews past `count` (by when they opened).
    public static func overCount(_ open: [Open], count: Int) -> [Closure] {
        let previews = open.sorted { ($0.openedAt, $0.number) < ($1.openedAt, $1.number) }
        guard previews.count > count else { return [] }
        let newest = previews.last!
        return previews.prefix(previews.count - count).map {
            Closure(target: $0.target, reason: "previews.count (\(count)) reached: the oldest preview goes first "
                    + "(pull request #\(newest.number) opened after it)", seen: $0)
        }
    }

    /// Preview targets a runtime holds that no open preview accounts for.
    public static func orphans(observed: Set<DeploymentTarget>, open: Set<DeploymentTarget>) -> [Closure] {
        observed.subtracting(open).filter { $0.environment != .main }.sorted { ($0.service, $0.environment) < ($1.service, $1.environment) }
            .map { Closure(target: $0, reason: "the runtime runs it, but its pull request is not open in Slipway's records") }
    }
}
