/// Whether a push is what the repository says it is, once the mirror is fetched: a webhook
/// (or a poll) names a commit, and only the repository can say that the branch points at it.
/// A forged, replayed or stale announcement is not deployed; a branch force-pushed back to
/// an older commit is.
public enum PushVerification {
    public struct Facts: Sendable, Hashable {
        /// The commit the push named, and the branch it named.
        public var sha: String
        public var branch: String
        /// The branch's head in the fetched mirror; nil: the branch is not there.
        public var head: String?
        /// Whether `sha` is an ancestor of `head` (the branch moved on since); nil: unknown.
        public var shaIsAncestorOfHead: Bool?
        /// The commit the service runs now, when it runs one.
        public var live: String?
        /// Whether `sha` is an ancestor of `live`; nil: unknown (`live` is not in the mirror).
        public var shaIsAncestorOfLive: Bool?
        /// The head before the push, when the announcement said.
        public var before: String?
        /// Whether `before` is an ancestor of `sha` (a fast-forward); nil: `before` is not in the mirror.
        public var beforeIsAncestorOfSHA: Bool?
        /// The deployment that replaced this very commit after it had gone live (a rollback away
        /// from it, an operator's `deploy --sha` or `--image` after it) and runs now; nil when none.
        public var replacedByOperator: Int64?

        public init(sha: String, branch: String, head: String?, shaIsAncestorOfHead: Bool? = nil, live: String? = nil,
                    shaIsAncestorOfLive: Bool? = nil, before: String? = nil, beforeIsAncestorOfSHA: Bool? = nil,
                    replacedByOperator: Int64? = nil) {
            self.replacedByOperator = replacedByOperator
            self.sha = sha
            self.branch = branch
            self.head = head
            self.shaIsAncestorOfHead = shaIsAncestorOfHead
            self.live = live
            self.shaIsAncestorOfLive = shaIsAncestorOfLive
            self.before = before
            self.beforeIsAncestorOfSHA = beforeIsAncestorOfSHA
        }
    }

    public enum Verdict: Sendable, Hashable {
        case deploy
        /// The branch moved on: a newer push is the one to deploy.
        case supersede(reason: String)
        /// The repository contradicts the announcement: recorded, not deployed.
        case refuse(reason: String)
    }

    /// The live deployment, when it replaced `sha` after `sha` had gone live: a rollback away from
    /// it, or an operator's deploy after it (`facts.replacedByOperator`). `pushing` is the push's own deployment.
    public static func replacement(of sha: String, pushing: Int64, live: DeploymentRecord?, history: [DeploymentRecord]) -> Int64? {
        guard let live, [.manual, .image, .rollback].contains(live.trigger), live.sha != sha,
              history.contains(where: { $0.id < live.id && $0.id != pushing && $0.sha == sha && $0.liveAt != nil }) else { return nil }
        return live.id
    }

    static func isZero(_ sha: String) -> Bool { sha.allSatisfy { $0 == "0" } }

    public static func decide(_ facts: Facts, service: String) -> Verdict {
        let short = RolloutDecisions.shortSHA(facts.sha)
        guard let head = facts.head else {
            return .refuse(reason: "the push names branch \(facts.branch), which the repository does not have (deleted since?); nothing was deployed")
        }
        guard head == facts.sha else {
            if facts.shaIsAncestorOfHead == true {
                return .supersede(reason: "branch \(facts.branch) has moved on to \(RolloutDecisions.shortSHA(head)) since this push of \(short); a newer push deploys the branch's head")
            }
            return .refuse(reason: "the push names commit \(short) but branch \(facts.branch) is at \(RolloutDecisions.shortSHA(head)) in the repository; "
                + "a push is deployed only when its commit is what the branch points at (a forged or replayed webhook, or a branch rewritten since); nothing was deployed")
        }
        // The branch really is at the commit. Moving the service back to an ancestor of what
        // runs takes a force-push that put the branch back there, not a fast-forward announcement.
        if let live = facts.live, live != facts.sha, facts.shaIsAncestorOfLive == true {
            // Forced: the old head is not behind the new one (or is gone from the mirror, as a
            // force-push leaves it). A new branch or an unknown old head is not a force-push.
            let forced = facts.before.map { !isZero($0) && facts.beforeIsAncestorOfSHA != true } ?? false
            if !forced {
                return .refuse(reason: "commit \(short) is older than the live commit \(RolloutDecisions.shortSHA(live)) (an ancestor of it) and the push was not a force-push back to it; "
                    + "to go back, run `slipway rollback \(service)` or `slipway deploy \(service) --sha \(short)`")
            }
        }
        // An operator moved the service off this commit since it was deployed: announcing the
        // same commit again (a replay, a redelivery) does not undo that.
        if let operatorDeployment = facts.replacedByOperator, facts.live != facts.sha {
            return .refuse(reason: "commit \(short) was replaced by deployment \(operatorDeployment) (a rollback or an operator's deploy) after it was deployed; "
                + "a push of the same commit does not undo that: push a new commit, or run `slipway deploy \(service) --sha \(short)`")
        }
        return .deploy
    }
}
