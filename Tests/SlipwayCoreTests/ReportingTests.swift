import Foundation
import SlipwayCore
import Testing

/// Providers' answers to reports, the requests reports become, and the pull request's comment.
@Suite struct ReportingTests {
    @Test(arguments: [
        (201, [String: String](), "{}", CommitStatus.Provider.github, "delivered"),
        (200, ["content-type": "text/html"], "<html>login</html>", .github, "retry"),
        (500, [:], "{\"message\":\"oops\"}", .github, "retry"),
        (502, [:], "", .gitlab, "retry"),
        (429, ["retry-after": "7"], "", .gitlab, "retry 7000"),
        (429, [:], "", .bitbucket, "retry 60000"),
        (403, ["retry-after": "30"], "{\"message\":\"You have exceeded a secondary rate limit\"}", .github, "retry 30000"),
        (403, [:], "{\"message\":\"You have exceeded a secondary rate limit\"}", .github, "retry 60000"),
        (403, ["x-ratelimit-remaining": "0", "x-ratelimit-reset": "1100"], "", .github, "retry 100000"),
        (403, [:], "{\"message\":\"Resource not accessible by integration\"}", .github, "failed"),
        (401, [:], "{\"message\":\"Bad credentials\"}", .github, "failed"),
        (404, [:], "", .bitbucketServer, "failed"),
        (422, [:], "{\"message\":\"Validation Failed\"}", .github, "failed"),
        (400, [:], "{\"message\":\"Cannot transition status via :run from :running\"}", .gitlab, "delivered"),
        (400, [:], "{\"message\":\"state is invalid\"}", .gitlab, "failed"),
    ])
    func answersAreClassified(_ status: Int, _ headers: [String: String], _ body: String, _ provider: CommitStatus.Provider, _ expected: String) {
        let answer = ProviderAnswer.classify(status: status, headers: headers, body: body, provider: provider, now: 1000)
        switch answer {
        case .delivered: #expect(expected == "delivered")
        case .retry(let after, _):
            #expect(expected.hasPrefix("retry"))
            if let ms = expected.split(separator: " ").last.flatMap({ Int64($0) }) { #expect(after?.milliseconds == ms) }
        case .failed(let why):
            #expect(expected == "failed", "\(why)")
            #expect(!why.contains("<html"))
        }
    }

    @Test func anHTMLErrorPageIsNotQuoted() {
        let answer = ProviderAnswer.classify(status: 500, headers: ["content-type": "text/html"], body: "<html><body>" + String(repeating: "x", count: 5000),
                                             provider: .bitbucket, now: 0)
        guard case .retry(_, let why) = answer else { Issue.record("\(answer)"); return }
        #expect(why.contains("an HTML page") && why.count < 200)
    }

    static let report = CommitStatus.report(.failure("exited with code 3"), provider: .github, context: "slipway/web", targetURL: "https://s.example/x")

    @Test func statusRequestsFollowEachProvidersAPI() throws {
        let sha = String(repeating: "a", count: 40)
        let github = try SourceHostRequest.status(Self.report, provider: .github, repository: "acme/shop", sha: sha, branch: "main")
        #expect(github.method == "POST" && github.path == "/repos/acme/shop/statuses/\(sha)")
        #expect(github.body?["context"] == .string("slipway/web") && github.body?["target_url"] == .string("https://s.example/x"))
        let gitlab = try SourceHostRequest.status(CommitStatus.report(.pending(stage: "building"), provider: .gitlab, context: "slipway/web", targetURL: nil),
                                                  provider: .gitlab, repository: "acme/platform/api", sha: sha, branch: "main")
        #expect(gitlab.path == "/projects/acme%2Fplatform%2Fapi/statuses/\(sha)")
        #expect(gitlab.body?["state"] == .string("running") && gitlab.body?["name"] == .string("slipway/web") && gitlab.body?["ref"] == .string("main"))
        let cloud = try SourceHostRequest.status(CommitStatus.report(.success, provider: .bitbucket, context: "slipway/web", targetURL: nil),
                                                 provider: .bitbucket, repository: "ws/shop", sha: sha, branch: nil)
        #expect(cloud.path == "/repositories/ws/shop/commit/\(sha)/statuses/build")
        #expect(cloud.body?["key"] == .string("slipway/web") && cloud.body?["url"] != nil && cloud.body?["state"] == .string("SUCCESSFUL"))
        let server = try SourceHostRequest.status(CommitStatus.report(.cancelled("superseded"), provider: .bitbucketServer, context: "slipway/web", targetURL: nil),
                                                  provider: .bitbucketServer, repository: "PROJ/shop", sha: sha, branch: nil)
        #expect(server.path == "/rest/build-status/1.0/commits/\(sha)" && server.body?["state"] == .string("FAILED"))
        #expect(throws: SourceHostRequest.Invalid.self) {
            try SourceHostRequest.status(Self.report, provider: .github, repository: "no-owner", sha: sha, branch: nil)
        }
    }

    @Test func commentRequestsCreateAndEditInPlace() throws {
        #expect(try SourceHostRequest.createComment("b", provider: .github, repository: "acme/shop", number: 7).path == "/repos/acme/shop/issues/7/comments")
        #expect(try SourceHostRequest.updateComment("b", id: "99", version: nil, provider: .github, repository: "acme/shop", number: 7).method == "PATCH")
        #expect(try SourceHostRequest.createComment("b", provider: .gitlab, repository: "g/p", number: 7).path == "/projects/g%2Fp/merge_requests/7/notes")
        let cloud = try SourceHostRequest.updateComment("b", id: "5", version: nil, provider: .bitbucket, repository: "ws/shop", number: 7)
        #expect(cloud.method == "PUT" && cloud.body?["content"] == .object(["raw": .string("b")]))
        let server = try SourceHostRequest.updateComment("b", id: "5", version: 3, provider: .bitbucketServer, repository: "PROJ/shop", number: 7)
        #expect(server.path == "/rest/api/1.0/projects/PROJ/repos/shop/pull-requests/7/comments/5" && server.body?["version"] == .int(3))
    }

    static func preview(_ service: String, _ state: PreviewStatus.State, failure: String? = nil, reason: String? = nil, url: String? = nil) -> PreviewStatus {
        var p = PreviewStatus(number: 7, service: "\(service)-pr-7", branch: "feature", sha: String(repeating: "b", count: 40), state: state,
                              url: url, updatedAt: Date(timeIntervalSince1970: 0), reason: reason, of: service)
        p.failure = failure
        return p
    }

    @Test func theCommentListsEachPreviewAndWhyOneFailed() {
        let body = PullRequestComment.body([
            Self.preview("web", .live, url: "https://web-pr-7.preview.example.com"),
            Self.preview("api", .failed, failure: "slipway-api exited with code 3 | <script>alert(1)</script>\nmore"),
        ], provider: .github, publicURL: nil)
        #expect(body.hasPrefix(PullRequestComment.marker))
        #expect(body.contains("| web-pr-7 | ✅ live | `bbbbbbbbbbbb` | [https://web-pr-7.preview.example.com](https://web-pr-7.preview.example.com) |"))
        #expect(body.contains("| api-pr-7 | ❌ failed |"))
        #expect(body.contains("exited with code 3 \\| &lt;script&gt;"))
        #expect(!body.contains("<script>"))
    }

    @Test func onceAllAreGoneTheCommentSaysSoAndWhy() {
        let body = PullRequestComment.body([Self.preview("web", .tornDown, reason: "pull request closed")], provider: .gitlab, publicURL: nil)
        #expect(body.contains("gone"))
        #expect(body.contains("torn down: pull request closed."))
    }

    @Test func aCommentPastTheLimitIsCutWithANote() {
        let many = (0..<3000).map { Self.preview("service-with-a-long-name-\($0)", .live, url: "https://x\($0).example.com/" + String(repeating: "p", count: 30)) }
        let body = PullRequestComment.body(many, provider: .bitbucket, publicURL: nil)
        #expect(body.count <= PullRequestComment.limit(.bitbucket))
        #expect(body.contains("more previews not shown"))
        #expect(body.hasPrefix(PullRequestComment.marker))
    }

    @Test func aLatePendingNeverReplacesAFinalReport() {
        #expect(CommitStatus.replaces(.pending(stage: "building"), sentName: nil))
        #expect(CommitStatus.replaces(.pending(stage: "building"), sentName: "pending"))
        #expect(!CommitStatus.replaces(.pending(stage: "building"), sentName: "success"))
        #expect(CommitStatus.replaces(.failure("x"), sentName: "success"))
    }
}
