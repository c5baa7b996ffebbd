import Foundation

/// One call to a source host's API, decided purely: method, path under the provider's API
/// base URL, JSON body. Paths and fields are the providers' documented ones (the contracts in
/// shared/fixtures/scm); the transport adds the base URL and credentials.
public struct SourceHostRequest: Sendable, Hashable {
    public var method: String
    public var path: String
    public var body: [String: JSONValue]?

    public init(method: String, path: String, body: [String: JSONValue]? = nil) {
        self.method = method
        self.path = path
        self.body = body
    }

    public var bodyData: Data? {
        guard let body else { return nil }
        return try? JSONEncoder.sorted.encode(body)
    }

    /// Percent-encodes one path segment (GitLab's `group%2Fproject`, a context with `/`).
    public static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// `owner/repo` → its two parts; nil when it is not two non-empty parts.
    static func ownerAndName(_ repository: String) -> (String, String)? {
        let parts = repository.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (segment(String(parts[0])), segment(String(parts[1])))
    }

    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The commit status call: GitHub's commit status, GitLab's commit status, Bitbucket Cloud's
    /// build status, Bitbucket Server's build status (the commit-scoped resource, which needs no project key).
    public static func status(_ report: CommitStatus.Report, provider: CommitStatus.Provider, repository: String, sha: String,
                              branch: String?) throws(Invalid) -> SourceHostRequest {
        switch provider {
        case .github:
            guard let (owner, name) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not owner/repo") }
            var body: [String: JSONValue] = ["state": .string(report.state), "context": .string(report.context),
                                             "description": .string(report.description)]
            if let url = report.targetURL { body["target_url"] = .string(url) }
            return SourceHostRequest(method: "POST", path: "/repos/\(owner)/\(name)/statuses/\(sha)", body: body)
        case .gitlab:
            var body: [String: JSONValue] = ["state": .string(report.state), "name": .string(report.context),
                                             "description": .string(report.description)]
            if let url = report.targetURL { body["target_url"] = .string(CommitStatus.truncated(url, limit: 255)) }
            if let branch { body["ref"] = .string(CommitStatus.truncated(branch, limit: 255)) }
            return SourceHostRequest(method: "POST", path: "/projects/\(segment(repository))/statuses/\(sha)", body: body)
        case .bitbucket:
            guard let (workspace, slug) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not workspace/repo") }
            // `url` is required: without a public URL, the commit's own page stands in.
            let body: [String: JSONValue] = ["key": .string(report.context), "state": .string(report.state), "name": .string(report.context),
                                             "description": .string(report.description),
                                             "url": .string(report.targetURL ?? "https://bitbucket.org/\(repository)/commits/\(sha)")]
            return SourceHostRequest(method: "POST", path: "/repositories/\(workspace)/\(slug)/commit/\(sha)/statuses/build", body: body)
        case .bitbucketServer:
            let body: [String: JSONValue] = ["key": .string(report.context), "state": .string(report.state), "name": .string(report.context),
                                             "description": .string(report.description),
                                             "url": .string(CommitStatus.truncated(report.targetURL ?? "https://slipway.invalid/commits/\(sha)", limit: 450))]
            return SourceHostRequest(method: "POST", path: "/rest/build-status/1.0/commits/\(sha)", body: body)
        }
    }

    /// Creating the pull request's comment.
    public static func createComment(_ body: String, provider: CommitStatus.Provider, repository: String, number: Int) throws(Invalid) -> SourceHostRequest {
        switch provider {
        case .github:
            guard let (owner, name) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not owner/repo") }
            return SourceHostRequest(method: "POST", path: "/repos/\(owner)/\(name)/issues/\(number)/comments", body: ["body": .string(body)])
        case .gitlab:
            return SourceHostRequest(method: "POST", path: "/projects/\(segment(repository))/merge_requests/\(number)/notes",
                                     body: ["body": .string(body)])
        case .bitbucket:
            guard let (workspace, slug) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not workspace/repo") }
            return SourceHostRequest(method: "POST", path: "/repositories/\(workspace)/\(slug)/pullrequests/\(number)/comments",
                                     body: ["content": .object(["raw": .string(body)])])
        case .bitbucketServer:
            guard let (project, slug) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not PROJECT/repo") }
            return SourceHostRequest(method: "POST", path: "/rest/api/1.0/projects/\(project)/repos/\(slug)/pull-requests/\(number)/comments",
                                     body: ["text": .string(body)])
        }
    }

    /// Editing it in place.
    public static func updateComment(_ body: String, id: String, version: Int?, provider: CommitStatus.Provider, repository: String,
                                     number: Int) throws(Invalid) -> SourceHostRequest {
        let comment = segment(id)
        switch provider {
        case .github:
            guard let (owner, name) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not owner/repo") }
            return SourceHostRequest(method: "PATCH", path: "/repos/\(owner)/\(name)/issues/comments/\(comment)", body: ["body": .string(body)])
        case .gitlab:
            return SourceHostRequest(method: "PUT", path: "/projects/\(segment(repository))/merge_requests/\(number)/notes/\(comment)",
                                     body: ["body": .string(body)])
        case .bitbucket:
            guard let (workspace, slug) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not workspace/repo") }
            return SourceHostRequest(method: "PUT", path: "/repositories/\(workspace)/\(slug)/pullrequests/\(number)/comments/\(comment)",
                                     body: ["content": .object(["raw": .string(body)])])
        case .bitbucketServer:
            guard let (project, slug) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not PROJECT/repo") }
            return SourceHostRequest(method: "PUT",
                                     path: "/rest/api/1.0/projects/\(project)/repos/\(slug)/pull-requests/\(number)/comments/\(comment)",
                                     body: ["text": .string(body), "version": .int(version ?? 0)])
        }
    }

    /// GitHub's list of a pull request's comments, one page, to find ours by its marker after
    /// its id was lost.
    public static func listComments(repository: String, number: Int, page: Int) throws(Invalid) -> SourceHostRequest {
        guard let (owner, name) = ownerAndName(repository) else { throw Invalid(description: "`\(repository)` is not owner/repo") }
        return SourceHostRequest(method: "GET", path: "/repos/\(owner)/\(name)/issues/\(number)/comments?per_page=100&page=\(page)")
    }
}

/// A JSON value, for request bodies built without Foundation's untyped dictionaries.
public enum JSONValue: Sendable, Hashable, Codable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case object([String: JSONValue])

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let v): try c.encode(v)
        case .int(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .object(let v): try c.encode(v)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(String.self) { self = .string(v) } else if let v = try? c.decode(Int.self) { self = .int(v) } else if let v = try? c.decode(Bool.self) {
            self = .bool(v)
        } else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
