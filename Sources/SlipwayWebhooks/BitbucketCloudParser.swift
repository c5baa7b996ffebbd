import Foundation
import SlipwayCore

/// Bitbucket Cloud `repo:push` (one event per change) and `pullrequest:*` → `NormalizedEvent`.
/// Its payloads carry no clone URL: it is derived from the repository's full name.
enum BitbucketCloudParser {
    struct Link: Decodable { var href: String? }
    struct Links: Decodable { var html: Link? }
    struct Repository: Decodable {
        var full_name: String?
        var links: Links?
    }
    struct Target: Decodable { var hash: String? }
    struct RefState: Decodable {
        var type: String?
        var name: String?
        var target: Target?
    }
    struct Change: Decodable {
        var new: RefState?
        var old: RefState?
    }
    struct Push: Decodable {
        struct Body: Decodable { var changes: [Change] }
        var push: Body
        var repository: Repository?
    }
    struct PullRequestEvent: Decodable {
        struct Side: Decodable {
            struct Branch: Decodable { var name: String? }
            struct Commit: Decodable { var hash: String? }
            var branch: Branch?
            var commit: Commit?
            var repository: Repository?
        }
        struct PullRequest: Decodable {
            var id: Int
            var source: Side?
            var destination: Side?
        }
        var pullrequest: PullRequest
        var repository: Repository?
    }
    struct AnyEvent: Decodable { var repository: Repository? }

    static func parse(event key: String, deliveryID: String?, body: Data) throws(WebhookError) -> [NormalizedEvent] {
        switch key {
        case "repo:push":
            let push: Push = try decode(body, key)
            let repo = push.repository.map(repository)
            let events = push.push.changes.map { change(key: key, $0, repository: repo, deliveryID: deliveryID) }
            guard !events.isEmpty else {
                return [NormalizedEvent(provider: .bitbucket, kind: .ignored, event: key, deliveryID: deliveryID,
                                        repository: repo, ignoredReason: "the push lists no changes")]
            }
            return events
        case "pullrequest:created", "pullrequest:updated", "pullrequest:fulfilled", "pullrequest:rejected":
            return [pullRequest(try decode(body, key), key: key, deliveryID: deliveryID)]
        default:
            let any: AnyEvent = try decode(body, key)
            return [NormalizedEvent(provider: .bitbucket, kind: .ignored, event: key, deliveryID: deliveryID,
                                    repository: any.repository.map(repository),
                                    ignoredReason: "Bitbucket `\(key)` events do not deploy")]
        }
    }

    static func change(key: String, _ c: Change, repository: NormalizedEvent.Repository?, deliveryID: String?) -> NormalizedEvent {
        let state = c.new ?? c.old
        let isTag = state?.type == "tag" || state?.type == "annotated_tag"
        let name = state?.name ?? ""
        var event = NormalizedEvent(provider: .bitbucket, kind: isTag ? .tag : .push, event: key, deliveryID: deliveryID,
                                    repository: repository, ref: (isTag ? "refs/tags/" : "refs/heads/") + name,
                                    branch: isTag ? nil : name, tag: isTag ? name : nil,
                                    before: c.old?.target?.hash, after: c.new?.target?.hash, deleted: c.new == nil)
        if let type = state?.type, !isTag, type != "branch", type != "named_branch" {
            event.kind = .ignored
            event.ignoredReason = "push of a \(type), which is neither a branch nor a tag"
        }
        return event
    }

    static func pullRequest(_ e: PullRequestEvent, key: String, deliveryID: String?) -> NormalizedEvent {
        let action: NormalizedEvent.PullRequest.Action = switch key {
        case "pullrequest:created": .opened
        case "pullrequest:fulfilled": .merged
        case "pullrequest:rejected": .closed
        default: .updated
        }
        let pr = e.pullrequest
        let head = pr.source?.commit?.hash
        var event = NormalizedEvent(provider: .bitbucket, kind: .pullRequest, event: key, deliveryID: deliveryID,
                                    repository: (e.repository ?? pr.destination?.repository).map(repository))
        event.pullRequest = NormalizedEvent.PullRequest(
            number: pr.id, action: action, headBranch: pr.source?.branch?.name, headSHA: head,
            baseBranch: pr.destination?.branch?.name,
            headCloneURL: pr.source?.repository.flatMap { repository($0).cloneURL })
        event.after = head
        return event
    }

    /// `https://bitbucket.org/<full name>.git`, on the host of the repository's web link.
    static func repository(_ r: Repository) -> NormalizedEvent.Repository {
        var host = "bitbucket.org"
        // The web link's port too: a mirror or proxy in front of Bitbucket may serve on one.
        if let href = r.links?.html?.href, let url = URL(string: href), let h = url.host { host = url.port.map { "\(h):\($0)" } ?? h }
        let clone = r.full_name.map { "https://\(host)/\($0).git" }
        let ssh = r.full_name.map { "git@\(host):\($0).git" }
        return NormalizedEvent.Repository(fullName: r.full_name, cloneURL: clone, otherURLs: ssh.map { [$0] } ?? [])
    }

    static func decode<T: Decodable>(_ body: Data, _ event: String) throws(WebhookError) -> T {
        try PayloadDecoding.decode(body, provider: "Bitbucket", event: event)
    }
}
