import Foundation
import Logging
import SlipwayCore
import SlipwaySourceHosts
import SlipwayStore

/// Tells the source host what a deployment is doing: the commit's status, and the pull
/// request's one comment. Each report row holds the newest state to say; a sender takes the
/// row's lease, says the newest state, and says it again if it changed meanwhile, so reports
/// of one commit and context go out one at a time and a late retry never says something
/// older. A provider outage only delays reports: the queue retries them (after `Retry-After`
/// when the provider names it); deployments never wait for them.
public struct NotifyHandler: JobHandler {
    let store: Store
    let access: SourceAccess
    let hosts: SourceHosts
    let transport: any APITransport
    let now: @Sendable () -> Date
    /// Counts each call's outcome (`slipway_commit_reports_total`).
    let count: MetricCounter?
    public var kind: JobKind { .notify }

    /// Longer than one call may take (15 s) with room; a sender that died frees the row after it.
    static let lease = TimeSpan.seconds(60)

    public init(store: Store, access: SourceAccess, hosts: SourceHosts, transport: any APITransport,
                now: @escaping @Sendable () -> Date = { Date() }, count: MetricCounter? = nil) {
        self.count = count
        self.store = store
        self.access = access
        self.hosts = hosts
        self.transport = transport
        self.now = now
    }

    public func run(_ job: ClaimedJob, logger: Logger) async throws {
        let payload = job.payload
        if let id = payload["report"].flatMap(Int64.init) {
            try await deliverStatus(id, logger: logger)
        } else if let id = payload["comment"].flatMap(Int64.init) {
            try await deliverComment(id, logger: logger)
        } else {
            throw PermanentJobError("a notify job names neither a report nor a comment")
        }
    }

    // MARK: - Commit statuses

    func deliverStatus(_ id: Int64, logger: Logger) async throws {
        let sender = UUID()
        while true {
            guard let row = try await store.leaseReport(id, sender: sender, for: Self.lease) else { return }
            var log = logger
            log[metadataKey: "report.id"] = "\(id)"
            log[metadataKey: "report.context"] = "\(row.context)"
            log[metadataKey: "git.sha"] = "\(row.sha)"
            guard row.version > row.sentVersion else {
                _ = try await store.finishReport(id, sender: sender, version: row.version, phase: nil, state: nil)
                return
            }
            guard let provider = CommitStatus.Provider(rawValue: row.provider) else {
                _ = try await store.finishReport(id, sender: sender, version: row.version, phase: nil, state: nil,
                                                 note: "no reporter for provider \(row.provider)")
                return
            }
            let phase = CommitStatus.phase(row.state, reason: row.reason)
            let target = link(row.deploymentID) ?? hosts.commitPage(provider, repository: row.repository, sha: row.sha)
            let report = CommitStatus.report(phase, provider: provider, context: row.context, targetURL: target)
            // Nothing to say: a late pending after a final report, or GitLab's same state again (it refuses repeats).
            if !CommitStatus.replaces(phase, sentName: row.sentPhase) || (provider == .gitlab && report.state == row.sentState) {
                let newer = try await store.finishReport(id, sender: sender, version: row.version, phase: nil, state: nil)
                if let newer, newer > row.version { continue }
                return
            }
            let policy = try await row.deploymentID.asyncMap { try await store.deployment($0).policy }
            let credential: (APICredential, String)?
            do { credential = try await access.apiCredential(provider: provider, repository: row.repository, policy: policy) } catch {
                try await store.releaseReport(id, sender: sender, error: "\(error)")
                throw error
            }
            guard let (auth, _) = credential else {
                count?(MetricCatalog.commitReports, [provider.rawValue, "skipped"])
                _ = try await store.finishReport(id, sender: sender, version: row.version, phase: nil, state: nil,
                                                 note: "not reported: no credentials for \(provider.displayName) (set \(provider.tokenSetting))")
                return
            }
            let request: SourceHostRequest
            do {
                request = try SourceHostRequest.status(report, provider: provider, repository: row.repository, sha: row.sha, branch: row.branch)
            } catch {
                _ = try await store.finishReport(id, sender: sender, version: row.version, phase: nil, state: nil, note: error.description)
                return
            }
            switch await send(request, provider: provider, auth: auth) {
            case .delivered:
                log.info("commit status sent", metadata: ["report.state": "\(report.state)", "provider": "\(provider.rawValue)"])
                let newer = try await store.finishReport(id, sender: sender, version: row.version, phase: phase.name, state: report.state)
                if let newer, newer > row.version { continue }
                return
            case .retry(let after, let why):
                log.warning("commit status not delivered; will retry", metadata: ["error": "\(why)"])
                try await store.releaseReport(id, sender: sender, error: why)
                throw RetryLater(why, after: after)
            case .failed(let why):
                log.error("commit status refused", metadata: ["error": "\(why)"])
                try await store.releaseReport(id, sender: sender, error: why)
                throw PermanentJobError(why)
            }
        }
    }

    /// The deployment's page on the dashboard.
    func link(_ deployment: Int64?) -> String? {
        guard let base = hosts.publicURL, let deployment else { return nil }
        return "\(base)/deployments/\(deployment)"
    }

    // MARK: - The pull request's comment

    func deliverComment(_ id: Int64, logger: Logger) async throws {
        let sender = UUID()
        while true {
            guard let row = try await store.leaseComment(id, sender: sender, for: Self.lease) else { return }
            let pull = row.pullRequest
            var log = logger
            log[metadataKey: "comment.pull_request"] = "\(pull.repository)#\(pull.number)"
            guard row.version > row.sentVersion else {
                _ = try await store.finishComment(id, sender: sender, version: row.version)
                return
            }
            let previews = try await store.previews(of: pull)
            guard let provider = CommitStatus.Provider(rawValue: pull.provider), !previews.isEmpty else {
                _ = try await store.finishComment(id, sender: sender, version: row.version)
                return
            }
            let policy = try await store.service(named: previews[0].of)?.policy
            let credential: (APICredential, String)?
            do { credential = try await access.apiCredential(provider: provider, repository: pull.repository, policy: policy) } catch {
                try await store.releaseComment(id, sender: sender, error: "\(error)")
                throw error
            }
            guard let (auth, _) = credential else {
                _ = try await store.finishComment(id, sender: sender, version: row.version,
                                                  note: "not commented: no credentials for \(provider.displayName) (set \(provider.tokenSetting))")
                return
            }
            let body = PullRequestComment.body(previews, provider: provider, publicURL: hosts.publicURL)
            do {
                try await writeComment(body, row: row, provider: provider, auth: auth, sender: sender)
            } catch let error as RetryLater {
                log.warning("pull request comment not written; will retry", metadata: ["error": "\(error.message)"])
                try await store.releaseComment(id, sender: sender, error: error.message)
                throw error
            } catch let error as PermanentJobError {
                log.error("pull request comment refused", metadata: ["error": "\(error.message)"])
                try await store.releaseComment(id, sender: sender, error: error.message)
                throw error
            }
            log.info("pull request comment written", metadata: ["provider": "\(provider.rawValue)"])
            let newer = try await store.finishComment(id, sender: sender, version: row.version)
            if let newer, newer > row.version { continue }
            return
        }
    }

    /// Edits the comment in place; creates it when it has none (or it was deleted). On GitHub a
    /// comment whose id was lost is found again by its marker before a new one is made.
    func writeComment(_ body: String, row: CommentRow, provider: CommitStatus.Provider, auth: APICredential, sender: UUID) async throws {
        let pull = row.pullRequest
        var commentID = row.commentID
        var commentVersion = row.commentVersion
        if commentID == nil, provider == .github {
            commentID = try await findComment(pull, auth: auth)
            if let commentID { try await store.rememberComment(row.id, sender: sender, commentID: commentID, commentVersion: nil) }
        }
        if let existing = commentID {
            let request = try SourceHostRequest.updateComment(body, id: existing, version: commentVersion, provider: provider,
                                                              repository: pull.repository, number: pull.number)
            let (answer, outcome) = await exchange(request, provider: provider, auth: auth)
            switch outcome {
            case .delivered:
                if provider == .bitbucketServer, let version = Self.field("version", in: answer?.body) {
                    commentVersion = Int(version)
                    try await store.rememberComment(row.id, sender: sender, commentID: existing, commentVersion: commentVersion)
                }
                return
            case .failed where answer?.status == 404:
                break // deleted by someone: a new one below
            case .retry(let after, let why): throw RetryLater(why, after: after)
            case .failed(let why): throw PermanentJobError(why)
            }
        }
        let request = try SourceHostRequest.createComment(body, provider: provider, repository: pull.repository, number: pull.number)
        let (answer, outcome) = await exchange(request, provider: provider, auth: auth)
        switch outcome {
        case .delivered:
            guard let id = Self.field("id", in: answer?.body) else {
                throw PermanentJobError("\(provider.displayName) created the comment but its answer has no id")
            }
            try await store.rememberComment(row.id, sender: sender, commentID: id, commentVersion: Self.field("version", in: answer?.body).flatMap(Int.init))
        case .retry(let after, let why): throw RetryLater(why, after: after)
        case .failed(let why): throw PermanentJobError(why)
        }
    }

    /// Ours among the pull request's comments (GitHub lists them), by the marker; nil when none.
    func findComment(_ pull: ReportedPullRequest, auth: APICredential) async throws -> String? {
        for page in 1...10 {
            let request = try SourceHostRequest.listComments(repository: pull.repository, number: pull.number, page: page)
            let (answer, outcome) = await exchange(request, provider: .github, auth: auth)
            switch outcome {
            case .delivered: break
            case .retry(let after, let why): throw RetryLater(why, after: after)
            case .failed(let why): throw PermanentJobError(why)
            }
            guard let data = answer?.body.data(using: .utf8),
                  let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return nil }
            if let mine = list.first(where: { ($0["body"] as? String)?.hasPrefix(PullRequestComment.marker) == true }) {
                return (mine["id"] as? Int).map(String.init) ?? (mine["id"] as? String)
            }
            if list.count < 100 { return nil }
        }
        return nil
    }

    // MARK: - Calls

    func send(_ request: SourceHostRequest, provider: CommitStatus.Provider, auth: APICredential) async -> ProviderAnswer {
        await exchange(request, provider: provider, auth: auth).1
    }

    func exchange(_ request: SourceHostRequest, provider: CommitStatus.Provider, auth: APICredential) async -> (APIAnswer?, ProviderAnswer) {
        guard let base = hosts.apiURL(provider) else {
            return (nil, .failed("\(provider.displayName) has no API URL: set SLIPWAY_BITBUCKET_SERVER_API_URL"))
        }
        var headers = auth.headers(for: provider)
        headers.append(("User-Agent", "slipway"))
        headers.append(("Accept", provider == .github ? "application/vnd.github+json" : "application/json"))
        if provider == .github { headers.append(("X-GitHub-Api-Version", "2022-11-28")) }
        if request.body != nil { headers.append(("Content-Type", "application/json")) }
        let call = APICall(method: request.method, url: base + request.path, headers: headers, body: request.bodyData)
        let result: (APIAnswer?, ProviderAnswer)
        do {
            let answer = try await transport.send(call)
            result = (answer, ProviderAnswer.classify(status: answer.status, headers: answer.headers, body: answer.body, provider: provider,
                                                      now: now().timeIntervalSince1970))
        } catch {
            result = (nil, .retry(after: nil, why: "\(error)"))
        }
        switch result.1 {
        case .delivered: count?(MetricCatalog.commitReports, [provider.rawValue, "sent"])
        case .retry: count?(MetricCatalog.commitReports, [provider.rawValue, "retried"])
        case .failed: count?(MetricCatalog.commitReports, [provider.rawValue, "refused"])
        }
        return result
    }

    /// A top-level field of a JSON answer, as text (ids come as numbers or strings).
    static func field(_ name: String, in body: String?) -> String? {
        guard let data = body?.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        if let number = object[name] as? Int { return String(number) }
        return object[name] as? String
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
