import Foundation
import SlipwayCore

/// Bitbucket Server / Data Center `repo:refs_changed` (one event per change), `pr:*` and
/// `diagnostics:ping` → `NormalizedEvent`.
enum BitbucketServerParser {
    struct Link: Decodable {
        var href: String?
        var name: String?
    }
    struct Links: Decodable {
        var clone: [Link]?
        var `self`: [Link]?
    }
    struct Project: Decodable { var key: String? }
    struct Repository: Decodable {
        var slug: String?
        var project: Project?
        var links: Links?
    }
    struct Ref: Decodable {
        var id: String?
        var displayId: String?
        var type: String?
    }
    struct Change: Decodable {
        var ref: Ref?
        var refId: String?
        var fromHash: String?
        var toHash: String?
        var type: String?
    }
    struct RefsChanged: Decodable {
        var repository: Repository?
        var changes: [Change]
    }
    struct PullRequestEvent: Decodable {
        struct Side: Decodable {
            var id: String?
            var displayId: String?
            var latestCommit: String?
            var repository: Repository?
        }
        struct PullRequest: Decodable {
            var id: Int
            var fromRef: Side?
            var toRef: Side?
        }
        var pullRequest: PullRequest
        var previousFromHash: String?
    }
    struct AnyEvent: Decodable { var repository: Repository? }

    static func parse(event key: String, deliveryID: String?, body: Data) throws(WebhookError) -> [NormalizedEvent] {
        switch key {
        case "repo:refs_changed":
            let e: RefsChanged = try decode(body, key)
            let repo = e.repository.map(repository)
            let events = e.changes.map { change(key: key, $0, repository: repo, deliveryID: deliveryID) }
            guard !events.isEmpty else {
                return [NormalizedEvent(provider: .bitbucketServer, kind: .ignored, event: key, deliveryID: deliveryID,
                                        repository: repo, ignoredReason: "the push lists no changes")]
            }
            return events
        case "pr:opened", "pr:from_ref_updated", "pr:modified", "pr:merged", "pr:declined", "pr:deleted", "pr:reopened":
            return [pullRequest(try decode(body, key), key: key, deliveryID: deliveryID)]
        case "diagnostics:ping":
            _ = try decode(body, key) as AnyEvent
            return [NormalizedEvent(provider: .bitbucketServer, kind: .ping, event: key, deliveryID: deliveryID)]
        default:
            let any: AnyEvent = try decode(body, key)
            return [NormalizedEvent(provider: .bitbucketServer, kind: .ignored, event: key, deliveryID: deliveryID,
                                    repository: any.repository.map(repository),
                                    ignoredReason: "Bitbucket Server `\(key)` events do not deploy")]
        }
    }

    static func change(key: String, _ c: Change, repository: NormalizedEvent.Repository?, deliveryID: String?) -> NormalizedEvent {
        let ref = c.ref?.id ?? c.refId ?? ""
        let (branchFromRef, tagFromRef) = PayloadDecoding.split(ref: ref)
        let isTag = c.ref?.type == "TAG" || tagFromRef != nil
        let name = c.ref?.displayId ?? (isTag ? tagFromRef : branchFromRef) ?? ref
        var event = NormalizedEvent(provider: .bitbucketServer, kind: isTag ? .tag : .push, event: key,
                                    deliveryID: deliveryID, repository: repository, ref: ref,
                                    branch: isTag ? nil : name, tag: isTag ? name : nil,
                                    before: c.fromHash, after: c.toHash, deleted: c.type == "DELETE")
        if !isTag && c.ref?.type != "BRANCH" && branchFromRef == nil {
            event.kind = .ignored
            event.branch = nil
            event.ignoredReason = "push to \(ref), which is neither a branch nor a tag"
        }
        return event
    }

    static func pullRequest(_ e: PullRequestEvent, key: String, deliveryID: String?) -> NormalizedEvent {
        let action: NormalizedEvent.PullRequest.Action = switch key {
        case "pr:opened": .opened
        case "pr:merged": .merged
        case "pr:declined", "pr:deleted": .closed
        case "pr:reopened": .reopened
        default: .updated
        }
        let pr = e.pullRequest
        let head = pr.fromRef?.latestCommit
        var event = NormalizedEvent(provider: .bitbucketServer, kind: .pullRequest, event: key, deliveryID: deliveryID,
                                    repository: pr.toRef?.repository.map(repository))
        event.pullRequest = NormalizedEvent.PullRequest(
            number: pr.id, action: action,
            headBranch: pr.fromRef?.displayId ?? pr.fromRef?.id.flatMap { PayloadDecoding.split(ref: $0).branch },
            headSHA: head,
            baseBranch: pr.toRef?.displayId ?? pr.toRef?.id.flatMap { PayloadDecoding.split(ref: $0).branch },
            headCloneURL: pr.fromRef?.repository.flatMap { repository($0).cloneURL })
        event.before = e.previousFromHash
        event.after = head
        return event
    }

    /// `PROJ/slug`; the clone URL is the `http` clone link, the ssh one is another address.
    static func repository(_ r: Repository) -> NormalizedEvent.Repository {
        let links = r.links?.clone ?? []
        let http = links.first { $0.name == "http" || $0.name == "https" }?.href ?? derivedCloneURL(r)
        let others = links.filter { $0.name != "http" && $0.name != "https" }.compactMap(\.href)
        let fullName: String? = switch (r.project?.key, r.slug) {
        case let (key?, slug?): "\(key)/\(slug)"
        case let (nil, slug?): slug
        default: nil
        }
        return NormalizedEvent.Repository(fullName: fullName, cloneURL: http, otherURLs: others)
    }

    /// Without clone links, the web link (`https://host/projects/KEY/repos/slug/browse`)
    /// gives the host; Bitbucket Server serves http clones at `/scm/key/slug.git`.
    static func derivedCloneURL(_ r: Repository) -> String? {
        guard let key = r.project?.key, let slug = r.slug, let href = r.links?.`self`?.first?.href,
              let range = href.range(of: "/projects/") ?? href.range(of: "/users/") else { return nil }
        return "\(href[..<range.lowerBound])/scm/\(key.lowercased())/\(slug).git"
    }

    static func decode<T: Decodable>(_ body: Data, _ event: String) throws(WebhookError) -> T {
        try PayloadDecoding.decode(body, provider: "Bitbucket Server", event: event)
    }
}
