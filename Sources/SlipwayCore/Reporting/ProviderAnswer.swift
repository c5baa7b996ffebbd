import Foundation

/// What a source host's answer to a report means for its delivery: done, try again later
/// (and when), or give up (and why, in words for `slipway status`). One rule for every
/// provider's rate limits: GitHub's `Retry-After` and `X-RateLimit-Remaining: 0` with
/// `X-RateLimit-Reset`, its secondary-limit 403, GitLab's and Bitbucket's 429.
public enum ProviderAnswer: Sendable, Hashable {
    case delivered
    case retry(after: TimeSpan?, why: String)
    case failed(String)

    /// - Parameters:
    ///   - headers: lowercased names.
    ///   - now: seconds since 1970, for `X-RateLimit-Reset`.
    public static func classify(status: Int, headers: [String: String], body: String, provider: CommitStatus.Provider,
                                now: Double) -> ProviderAnswer {
        let name = provider.displayName
        let contentType = headers["content-type"]?.lowercased() ?? ""
        let message = Self.message(body, contentType: contentType)
        let retryAfter = headers["retry-after"].flatMap(Self.seconds)
        switch status {
        case 200..<300:
            // A proxy or captive page answering 200 with HTML did not take the report.
            if contentType.contains("text/html") || body.trimmingCharacters(in: .whitespaces).hasPrefix("<") {
                return .retry(after: nil, why: "\(name) answered \(status) with an HTML page, not its API's JSON: check the API URL (a proxy or login page answered)")
            }
            return .delivered
        case 429:
            return .retry(after: retryAfter ?? .seconds(60), why: "\(name) rate limit (429)\(message.map { ": \($0)" } ?? "")")
        case 403 where provider == .github:
            if let retryAfter {
                return .retry(after: retryAfter, why: "GitHub secondary rate limit\(message.map { ": \($0)" } ?? "")")
            }
            if headers["x-ratelimit-remaining"] == "0" {
                let reset = headers["x-ratelimit-reset"].flatMap(Double.init).map { TimeSpan(milliseconds: Int64(max(1, $0 - now) * 1000)) }
                return .retry(after: reset ?? .seconds(60), why: "GitHub rate limit used up until its reset")
            }
            if let message, message.lowercased().contains("secondary rate limit") || message.lowercased().contains("abuse") {
                return .retry(after: .seconds(60), why: "GitHub secondary rate limit: \(message)")
            }
            return .failed("GitHub refused the report (403)\(message.map { ": \($0)" } ?? ""): the token or App lacks the permission (statuses: write, pull requests / issues: write)")
        case 401:
            return .failed("\(name) rejected the credentials (401): check \(provider.tokenSetting) or the policy's source.credentials")
        case 403:
            return .failed("\(name) refused the report (403)\(message.map { ": \($0)" } ?? ""): the token lacks the permission to write statuses or comments")
        case 404:
            return .failed("\(name) does not know the repository, commit or pull request (404): check the repository name and that the token can see it")
        case 400 where provider == .gitlab && (message ?? "").contains("Cannot transition status"):
            // GitLab refuses the state it already has: the commit already says this.
            return .delivered
        case 400, 409, 422:
            return .failed("\(name) refused the request (\(status))\(message.map { ": \($0)" } ?? "")")
        case 500..<600, 408:
            return .retry(after: retryAfter, why: "\(name) answered \(status)\(message.map { ": \($0)" } ?? "")")
        default:
            return .failed("\(name) answered \(status)\(message.map { ": \($0)" } ?? "")")
        }
    }

    /// `Retry-After` in seconds (the HTTP-date form is rare on these APIs; treated as a minute).
    static func seconds(_ text: String) -> TimeSpan? {
        if let seconds = Double(text.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return TimeSpan(milliseconds: Int64(max(seconds, 1) * 1000))
        }
        return text.isEmpty ? nil : .seconds(60)
    }

    /// The provider's own words: JSON `message`/`error`/`error.message`, else the body's first
    /// line; never an HTML page; at most 200 characters.
    public static func message(_ body: String, contentType: String) -> String? {
        let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        if contentType.contains("text/html") || trimmed.hasPrefix("<") { return "an HTML page instead of JSON" }
        if let data = trimmed.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let text: String?
            if let m = object["message"] as? String { text = m } else if let e = object["error"] as? String { text = e } else if let e = object["error"] as? [String: Any], let m = e["message"] as? String {
                text = m
            } else if let m = object["message"] { text = "\(m)" } else { text = nil }
            return text.map { Terminal.printable($0, limit: 200) }
        }
        return Terminal.printable(String(trimmed.prefix(while: { $0 != "\n" })), limit: 200)
    }
}

extension CommitStatus.Provider {
    public var displayName: String {
        switch self {
        case .github: "GitHub"
        case .gitlab: "GitLab"
        case .bitbucket: "Bitbucket"
        case .bitbucketServer: "Bitbucket Server"
        }
    }

    /// The server-wide setting holding its token.
    public var tokenSetting: String {
        switch self {
        case .github: "SLIPWAY_GITHUB_TOKEN (or the GitHub App)"
        case .gitlab: "SLIPWAY_GITLAB_TOKEN"
        case .bitbucket: "SLIPWAY_BITBUCKET_TOKEN"
        case .bitbucketServer: "SLIPWAY_BITBUCKET_SERVER_TOKEN"
        }
    }
}
