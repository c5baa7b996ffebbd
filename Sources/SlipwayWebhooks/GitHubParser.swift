import Foundation
import SlipwayCore

/// GitHub `push`, `create`, `delete`, `pull_request` and `ping` → `NormalizedEvent`;
/// other events become `ignored`.
enum GitHubParser {
    /// GitHub lists at most 2,048 commits in a push; past that the files are computed with git.
    static let commitListLimit = 2048

    static func parse(event: String, deliveryID: String?, body: Data) throws(WebhookError) -> NormalizedEvent {
        switch event {
        case "push":
            return pushEvent(try decode(body, event), deliveryID: deliveryID)
        case "create", "delete":
            return refEvent(try decode(body, event), event: event, deliveryID: deliveryID)
        case "pull_request":
            return pullRequestEvent(try decode(body, event), deliveryID: deliveryID)
        case "ping":
            let any: GitHubAnyEvent = try decode(body, event)
            return NormalizedEvent(provider: .github, kind: .ping, event: event, deliveryID: deliveryID,
                                   repository: any.repository.map(repository))
        default:
            let any: GitHubAnyEvent = try decode(body, event.isEmpty ? "unnamed" : event)
            return NormalizedEvent(provider: .github, kind: .ignored, event: event, deliveryID: deliveryID,
                                   repository: any.repository.map(repository),
                                   ignoredReason: "GitHub `\(event)` events do not deploy")
        }
    }

    static func pushEvent(_ push: GitHubPush, deliveryID: String?) -> NormalizedEvent {
        var event = NormalizedEvent(provider: .github, kind: .push, event: "push", deliveryID: deliveryID,
                                    repository: push.repository.map(repository), ref: push.ref,
                                    before: push.before, after: push.after,
                                    deleted: push.deleted ?? (push.after == PayloadDecoding.zeroSHA))
        let (branch, tag) = PayloadDecoding.split(ref: push.ref)
        event.branch = branch
        event.tag = tag
        if tag != nil {
            event.kind = .tag
        } else if branch == nil {
            event.kind = .ignored
            event.ignoredReason = "push to \(push.ref), which is neither a branch nor a tag"
        }
        event.changedPaths = changedPaths(push)
        return event
    }

    /// The commit list names every changed file unless it was cut short, the push was
    /// forced (old commits left the branch), or it is empty (a branch moved to commits
    /// that were already in the repository).
    static func changedPaths(_ push: GitHubPush) -> [String]? {
        guard let commits = push.commits, !commits.isEmpty, commits.count < commitListLimit, push.forced != true else {
            return nil
        }
        return commits.flatMap { ($0.added ?? []) + ($0.modified ?? []) + ($0.removed ?? []) }
    }

    static func refEvent(_ e: GitHubRefEvent, event name: String, deliveryID: String?) -> NormalizedEvent {
        let isTag = e.ref_type == "tag"
        let fullRef = (isTag ? "refs/tags/" : "refs/heads/") + e.ref
        var event = NormalizedEvent(provider: .github, kind: isTag ? .tag : .push, event: name, deliveryID: deliveryID,
                                    repository: e.repository.map(repository), ref: fullRef,
                                    branch: isTag ? nil : e.ref, tag: isTag ? e.ref : nil, deleted: name == "delete")
        if e.ref_type != "tag" && e.ref_type != "branch" {
            event.kind = .ignored
            event.ignoredReason = "GitHub `\(name)` of a \(e.ref_type), which is neither a branch nor a tag"
        }
        return event
    }

    static func pullRequestEvent(_ e: GitHubPullRequestEvent, deliveryID: String?) -> NormalizedEvent {
        let action: NormalizedEvent.PullRequest.Action?
        switch e.action {
        case "opened": action = .opened
        case "synchronize": action = .updated
        case "reopened": action = .reopened
        case "closed": action = e.pull_request.merged == true ? .merged : .closed
        default: action = nil
        }
        var event = NormalizedEvent(provider: .github, kind: .pullRequest, event: "pull_request",
                                    deliveryID: deliveryID, repository: e.repository.map(repository))
        guard let action, let number = e.pull_request.number ?? e.number else {
            event.kind = .ignored
            event.ignoredReason = "pull request action `\(e.action)` does not change what runs"
            return event
        }
        event.pullRequest = NormalizedEvent.PullRequest(
            number: number, action: action,
            headBranch: e.pull_request.head?.ref, headSHA: e.pull_request.head?.sha,
            baseBranch: e.pull_request.base?.ref,
            headCloneURL: e.pull_request.head?.repo.flatMap(cloneURL))
        event.before = e.before
        event.after = e.pull_request.head?.sha
        return event
    }

    static func repository(_ r: GitHubRepository) -> NormalizedEvent.Repository {
        NormalizedEvent.Repository(fullName: r.full_name, cloneURL: cloneURL(r),
                                   otherURLs: [r.ssh_url, r.git_url].compactMap { $0 })
    }

    static func cloneURL(_ r: GitHubRepository) -> String? {
        r.clone_url ?? r.html_url.map { $0 + ".git" }
    }

    static func decode<T: Decodable>(_ body: Data, _ event: String) throws(WebhookError) -> T {
        try PayloadDecoding.decode(body, provider: "GitHub", event: event)
    }
}
