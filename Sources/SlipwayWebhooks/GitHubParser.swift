import Foundation
import SlipwayCore

/// GitHub `push`, `pull_request` and `ping` → `NormalizedEvent`; other events become `ignored`.
enum GitHubParser {
    static func parse(event: String, deliveryID: String?, body: Data) throws(WebhookError) -> NormalizedEvent {
        switch event {
        case "push":
            let push: GitHubPush = try decode(body, as: "push")
            return pushEvent(push, deliveryID: deliveryID)
        case "pull_request":
            let pr: GitHubPullRequestEvent = try decode(body, as: "pull_request")
            return pullRequestEvent(pr, deliveryID: deliveryID)
        case "ping":
            let any: GitHubAnyEvent = try decode(body, as: "ping")
            return NormalizedEvent(provider: .github, kind: .ping, event: event, deliveryID: deliveryID,
                                   repository: any.repository.map(repository))
        default:
            let any: GitHubAnyEvent = try decode(body, as: event)
            return NormalizedEvent(provider: .github, kind: .ignored, event: event, deliveryID: deliveryID,
                                   repository: any.repository.map(repository),
                                   ignoredReason: "GitHub `\(event)` events do not deploy")
        }
    }

    static func pushEvent(_ push: GitHubPush, deliveryID: String?) -> NormalizedEvent {
        var event = NormalizedEvent(provider: .github, kind: .push, event: "push", deliveryID: deliveryID,
                                    repository: push.repository.map(repository), ref: push.ref,
                                    before: push.before, after: push.after,
                                    deleted: push.deleted ?? (push.after == zeroSHA))
        if push.ref.hasPrefix("refs/heads/") {
            event.branch = String(push.ref.dropFirst("refs/heads/".count))
        } else if push.ref.hasPrefix("refs/tags/") {
            event.kind = .tag
            event.tag = String(push.ref.dropFirst("refs/tags/".count))
        } else {
            event.kind = .ignored
            event.ignoredReason = "push to \(push.ref), which is neither a branch nor a tag"
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
            headCloneURL: e.pull_request.head?.repo?.clone_url)
        event.after = e.pull_request.head?.sha
        return event
    }

    static func repository(_ r: GitHubRepository) -> NormalizedEvent.Repository {
        NormalizedEvent.Repository(fullName: r.full_name, cloneURL: r.clone_url ?? r.html_url.map { $0 + ".git" } ?? r.ssh_url)
    }

    static let zeroSHA = String(repeating: "0", count: 40)

    static func decode<T: Decodable>(_ body: Data, as event: String) throws(WebhookError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw .malformed("body is not JSON")
        } catch let DecodingError.keyNotFound(key, context) {
            let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            throw .malformed("GitHub `\(event)` payload has no `\(path)`")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .malformed("GitHub `\(event)` payload has an unexpected `\(path)`")
        } catch {
            throw .malformed("body is not JSON")
        }
    }
}
