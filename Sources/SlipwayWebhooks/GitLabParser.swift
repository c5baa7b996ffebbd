import Foundation
import SlipwayCore

/// GitLab `Push Hook`, `Tag Push Hook` and `Merge Request Hook` (also as system hooks,
/// told apart by `object_kind`) → `NormalizedEvent`; other hooks become `ignored`.
enum GitLabParser {
    struct Project: Decodable {
        var path_with_namespace: String?
        var git_http_url: String?
        var git_ssh_url: String?
        var web_url: String?
        var http_url: String?
        var ssh_url: String?
    }
    struct Repository: Decodable {
        var git_http_url: String?
        var git_ssh_url: String?
        var url: String?
        var homepage: String?
    }
    struct Kind: Decodable {
        var object_kind: String?
        var event_name: String?
    }
    struct Push: Decodable {
        var object_kind: String?
        var ref: String
        var before: String?
        var after: String?
        var project: Project?
        var repository: Repository?
    }
    struct MergeRequest: Decodable {
        struct LastCommit: Decodable { var id: String? }
        struct Attributes: Decodable {
            var iid: Int
            var action: String?
            var state: String?
            var source_branch: String?
            var target_branch: String?
            var oldrev: String?
            var last_commit: LastCommit?
            var source: Project?
        }
        var object_attributes: Attributes
        var project: Project?
        var repository: Repository?
    }
    struct AnyHook: Decodable {
        var project: Project?
        var repository: Repository?
    }

    static func parse(event header: String, deliveryID: String?, body: Data) throws(WebhookError) -> NormalizedEvent {
        // System hooks name the kind only in the body; project hooks in both.
        let kind: Kind = try decode(body, header)
        switch kind.object_kind ?? kind.event_name ?? Self.objectKind(forHeader: header) {
        case "push":
            return push(try decode(body, header), event: header, deliveryID: deliveryID, tag: false)
        case "tag_push":
            return push(try decode(body, header), event: header, deliveryID: deliveryID, tag: true)
        case "merge_request":
            return mergeRequest(try decode(body, header), event: header, deliveryID: deliveryID)
        default:
            let any: AnyHook = try decode(body, header)
            return NormalizedEvent(provider: .gitlab, kind: .ignored, event: header, deliveryID: deliveryID,
                                   repository: repository(any.project, any.repository),
                                   ignoredReason: "GitLab `\(header)` events do not deploy")
        }
    }

    static func objectKind(forHeader header: String) -> String {
        switch header {
        case "Push Hook": "push"
        case "Tag Push Hook": "tag_push"
        case "Merge Request Hook": "merge_request"
        default: ""
        }
    }

    static func push(_ p: Push, event name: String, deliveryID: String?, tag: Bool) -> NormalizedEvent {
        var event = NormalizedEvent(provider: .gitlab, kind: tag ? .tag : .push, event: name, deliveryID: deliveryID,
                                    repository: repository(p.project, p.repository), ref: p.ref,
                                    before: p.before, after: p.after, deleted: p.after == PayloadDecoding.zeroSHA)
        let (branch, tagName) = PayloadDecoding.split(ref: p.ref)
        event.branch = branch
        event.tag = tagName
        if tagName != nil {
            event.kind = .tag
        } else if branch == nil {
            event.kind = .ignored
            event.ignoredReason = "push to \(p.ref), which is neither a branch nor a tag"
        }
        // The changed files always come from git: GitLab lists at most 20 commits and does not
        // say whether a push was forced, when its list would miss the files of dropped commits.
        return event
    }

    static func mergeRequest(_ m: MergeRequest, event name: String, deliveryID: String?) -> NormalizedEvent {
        var event = NormalizedEvent(provider: .gitlab, kind: .pullRequest, event: name, deliveryID: deliveryID,
                                    repository: repository(m.project, m.repository))
        let a = m.object_attributes
        let action: NormalizedEvent.PullRequest.Action?
        // Old GitLab versions send no `action`, only the state the merge request is in.
        switch a.action ?? a.state.map(Self.actionForState) {
        case "open": action = .opened
        case "update": action = .updated
        case "merge": action = .merged
        case "close": action = .closed
        case "reopen": action = .reopened
        default: action = nil
        }
        guard let action else {
            event.kind = .ignored
            event.ignoredReason = "merge request action `\(a.action ?? "none")` does not change what runs"
            return event
        }
        let head = a.last_commit?.id
        event.pullRequest = NormalizedEvent.PullRequest(
            number: a.iid, action: action, headBranch: a.source_branch, headSHA: head,
            baseBranch: a.target_branch, headCloneURL: a.source.flatMap { $0.git_http_url ?? $0.http_url })
        event.before = a.oldrev
        event.after = head
        return event
    }

    static func actionForState(_ state: String) -> String {
        switch state {
        case "opened": "open"
        case "merged": "merge"
        case "closed": "close"
        default: state
        }
    }

    static func repository(_ project: Project?, _ repository: Repository?) -> NormalizedEvent.Repository? {
        guard project != nil || repository != nil else { return nil }
        let clone = project?.git_http_url ?? project?.http_url ?? repository?.git_http_url
        let others = [project?.git_ssh_url, project?.ssh_url, repository?.git_ssh_url, repository?.url].compactMap { $0 }
        // Old payloads have no `project`: the namespaced path is the web address's path.
        let name = project?.path_with_namespace ?? (project?.web_url ?? repository?.homepage).flatMap(Self.path(of:))
        return NormalizedEvent.Repository(fullName: name, cloneURL: clone, otherURLs: Array(Set(others)).sorted())
    }

    static func path(of webURL: String) -> String? {
        guard let url = URL(string: webURL), !url.path.isEmpty else { return nil }
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return path.isEmpty ? nil : path
    }

    static func decode<T: Decodable>(_ body: Data, _ event: String) throws(WebhookError) -> T {
        try PayloadDecoding.decode(body, provider: "GitLab", event: event)
    }
}
