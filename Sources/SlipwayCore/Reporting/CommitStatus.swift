/// What a deployment's state looks like as a commit status on each source host: one rule
/// for the phase (pending, success, failure, cancelled), then each provider's words for it
/// and its field limits. The reporter (a `notify` job) sends what this returns.
public enum CommitStatus {
    /// Where the report goes; Bitbucket Server has two APIs with different states.
    public enum Provider: String, Sendable, Hashable, CaseIterable {
        case github, gitlab, bitbucket
        case bitbucketServer = "bitbucket-server"
    }

    public enum Phase: Sendable, Hashable {
        /// Under way: the stage it is at (`building`, `rolling out`, …).
        case pending(stage: String)
        case success
        /// Failed or rolled back: the reason's first line (with the exit code).
        case failure(String)
        /// Cancelled or superseded, and why.
        case cancelled(String)

        /// A final phase is never replaced by a pending one reported late.
        public var isFinal: Bool {
            if case .pending = self { false } else { true }
        }

        /// As stored with what was sent: `pending`, `success`, `failure`, `cancelled`.
        public var name: String {
            switch self {
            case .pending: "pending"
            case .success: "success"
            case .failure: "failure"
            case .cancelled: "cancelled"
            }
        }
    }

    /// The phase of a deployment in `state` (`reason` as stored).
    public static func phase(_ state: DeploymentState, reason: String?) -> Phase {
        let why = firstLine(reason)
        switch state {
        case .queued: return .pending(stage: "queued")
        case .building: return .pending(stage: "building")
        case .pushing: return .pending(stage: "pushing the image")
        case .rollingOut: return .pending(stage: "rolling out")
        case .watching: return .pending(stage: "live, watching for crashes")
        case .succeeded: return .success
        case .failed: return .failure(why ?? "failed")
        case .rolledBack: return .failure(why ?? "rolled back")
        case .cancelled: return .cancelled(why ?? "cancelled")
        case .superseded: return .cancelled(why ?? "superseded by a newer commit")
        }
    }

    /// Whether `next` may replace `sent` for the same commit and context: nothing replaces a
    /// final report with a pending one (a late "building" after "success").
    public static func replaces(_ next: Phase, _ sent: Phase?) -> Bool {
        guard let sent else { return true }
        return !(sent.isFinal && !next.isFinal)
    }

    /// The same rule against what was sent, by its stored name.
    public static func replaces(_ next: Phase, sentName: String?) -> Bool {
        guard let sentName else { return true }
        return !(sentName != "pending" && !next.isFinal)
    }

    /// `slipway/web`, `slipway/web-pr-7`: the context (GitHub), name (GitLab) and key (Bitbucket).
    public static func context(_ target: DeploymentTarget) -> String { "slipway/\(target.runtimeName)" }

    /// One report as the provider takes it.
    public struct Report: Sendable, Hashable {
        public var state: String
        public var context: String
        public var description: String
        public var targetURL: String?
    }

    /// The provider's state word and a description within its limit.
    public static func report(_ phase: Phase, provider: Provider, target: DeploymentTarget, targetURL: String?) -> Report {
        report(phase, provider: provider, context: context(target), targetURL: targetURL)
    }

    public static func report(_ phase: Phase, provider: Provider, context: String, targetURL: String?) -> Report {
        let state: String
        let description: String
        switch phase {
        case .pending(let stage):
            // GitLab tells queued (`pending`) from under way (`running`); the others have one word.
            let gitlab = stage == "queued" ? "pending" : "running"
            state = [.github: "pending", .gitlab: gitlab, .bitbucket: "INPROGRESS", .bitbucketServer: "INPROGRESS"][provider]!
            description = "Slipway: \(stage)"
        case .success:
            state = [.github: "success", .gitlab: "success", .bitbucket: "SUCCESSFUL", .bitbucketServer: "SUCCESSFUL"][provider]!
            description = "Slipway: live"
        case .failure(let why):
            state = [.github: "failure", .gitlab: "failed", .bitbucket: "FAILED", .bitbucketServer: "FAILED"][provider]!
            description = "Slipway: \(why)"
        case .cancelled(let why):
            // Bitbucket Server's build-status API has no cancelled state: FAILED, saying why.
            state = [.github: "error", .gitlab: "canceled", .bitbucket: "STOPPED", .bitbucketServer: "FAILED"][provider]!
            description = "Slipway: \(why)"
        }
        return Report(state: state, context: context, description: truncated(description, limit: descriptionLimit(provider)),
                      targetURL: targetURL)
    }

    /// GitHub refuses descriptions past 140 characters; Bitbucket Server past 255.
    public static func descriptionLimit(_ provider: Provider) -> Int {
        switch provider {
        case .github: 140
        case .gitlab, .bitbucket, .bitbucketServer: 255
        }
    }

    static func firstLine(_ text: String?) -> String? {
        guard let line = text?.split(separator: "\n", omittingEmptySubsequences: true).first else { return nil }
        return Terminal.printable(String(line))
    }

    /// At most `limit` characters, ending in `…` when cut.
    public static func truncated(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit - 1)) + "…"
    }
}
