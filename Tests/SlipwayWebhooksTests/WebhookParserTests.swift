import Foundation
import SlipwayCore
import SlipwayWebhooks
import Testing

@Suite struct GitHubParsingTests {
    func fixture(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return try Data(contentsOf: url)
    }

    func headers(_ event: String, delivery: String = "72d3162e-cc78-11e3-81ab-4c9367dc0958") -> WebhookHeaders {
        WebhookHeaders([("X-GitHub-Event", event), ("x-github-delivery", delivery)])
    }

    @Test func pushToABranch() throws {
        var event = try WebhookParser.parse(headers: headers("push"), body: try fixture("github-push.json"))
        #expect(event.changedPaths == ["services/web/README.md"])
        #expect(event.repository?.otherURLs == ["git@github.com:acme/shop.git", "git://github.com/acme/shop.git"])
        event.changedPaths = nil
        event.repository?.otherURLs = []
        #expect(event == NormalizedEvent(
            provider: .github, kind: .push, event: "push", deliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            repository: .init(fullName: "acme/shop", cloneURL: "https://github.com/acme/shop.git"),
            ref: "refs/heads/main", branch: "main", tag: nil,
            before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", after: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
            deleted: false))
    }

    @Test func printedJSONHasEveryContractKeyWithNulls() throws {
        let event = try WebhookParser.parse(headers: headers("push"), body: try fixture("github-push.json"))
        let object = try JSONSerialization.jsonObject(with: JSONEncoder.slipway.encode(event)) as! [String: Any]
        for key in ["provider", "kind", "deliveryID", "repository", "ref", "branch", "tag", "before", "after", "deleted", "pullRequest"] {
            #expect(object.keys.contains(key), "missing \(key)")
        }
        #expect(object["tag"] is NSNull)
        #expect(object["pullRequest"] is NSNull)
        #expect(object["provider"] as? String == "github")
        #expect((object["repository"] as? [String: Any])?["cloneURL"] as? String == "https://github.com/acme/shop.git")
    }

    @Test func tagPushAndBranchDeletion() throws {
        var payload = try JSONSerialization.jsonObject(with: try fixture("github-push.json")) as! [String: Any]
        payload["ref"] = "refs/tags/v1.2.0"
        let tag = try WebhookParser.parse(headers: headers("push"), body: try JSONSerialization.data(withJSONObject: payload))
        #expect(tag.kind == .tag && tag.tag == "v1.2.0" && tag.branch == nil)

        payload["ref"] = "refs/heads/old"
        payload["after"] = String(repeating: "0", count: 40)
        payload["deleted"] = true
        let deletion = try WebhookParser.parse(headers: headers("push"), body: try JSONSerialization.data(withJSONObject: payload))
        #expect(deletion.kind == .push && deletion.deleted == true && deletion.branch == "old")
    }

    @Test func mergedPullRequest() throws {
        let event = try WebhookParser.parse(headers: headers("pull_request"), body: try fixture("github-pull_request-closed.json"))
        #expect(event.kind == .pullRequest)
        #expect(event.pullRequest == .init(number: 42, action: .merged, headBranch: "feat",
                                           headSHA: "7638417db6d59f3c431d3e1f261cc637155684cd", baseBranch: "main",
                                           headCloneURL: "https://github.com/ada/shop.git"))
    }

    @Test(arguments: [("opened", NormalizedEvent.PullRequest.Action.opened), ("synchronize", .updated),
                      ("reopened", .reopened)])
    func pullRequestActions(action: String, expected: NormalizedEvent.PullRequest.Action) throws {
        var payload = try JSONSerialization.jsonObject(with: try fixture("github-pull_request-closed.json")) as! [String: Any]
        payload["action"] = action
        let event = try WebhookParser.parse(headers: headers("pull_request"), body: try JSONSerialization.data(withJSONObject: payload))
        #expect(event.pullRequest?.action == expected)
    }

    @Test func pingAndUnknownEvents() throws {
        #expect(try WebhookParser.parse(headers: headers("ping"), body: try fixture("github-ping.json")).kind == .ping)
        let issues = try WebhookParser.parse(headers: headers("issues"), body: Data(#"{"action":"opened"}"#.utf8))
        #expect(issues.kind == .ignored)
        #expect(issues.ignoredReason == "GitHub `issues` events do not deploy")
    }

    @Test(arguments: [
        ("push", "{not json", "body is not JSON"),
        ("push", #"{"before":"x"}"#, "GitHub `push` payload has no `ref`"),
        ("push", #"{"ref": 5}"#, "GitHub `push` payload has an unexpected `ref`"),
        ("pull_request", #"{"action":"opened"}"#, "GitHub `pull_request` payload has no `pull_request`"),
    ])
    func malformedBodies(event: String, body: String, message: String) {
        do {
            _ = try WebhookParser.parse(headers: headers(event), body: Data(body.utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .malformed)
            #expect(error.message == message)
        }
    }

    @Test func unknownProvider() {
        #expect(throws: WebhookError.self) { try WebhookParser.parse(headers: WebhookHeaders(), body: Data("{}".utf8)) }
    }
}

@Suite struct WebhookSignatureTests {
    // The example from GitHub's documentation on validating webhook deliveries.
    @Test func gitHubDocumentationExample() {
        let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        #expect(WebhookSignature.sign(body: Data("Hello, World!".utf8), secret: "It's a Secret to Everybody") == signature)
        #expect(WebhookSignature.isValid(header: signature, body: Data("Hello, World!".utf8), secret: "It's a Secret to Everybody"))
    }

    @Test(arguments: [
        nil, "", "sha256=", "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    ] as [String?])
    func rejects(header: String?) {
        #expect(!WebhookSignature.isValid(header: header, body: Data("Hello, World!".utf8), secret: "It's a Secret to Everybody"))
    }

    @Test func wrongSecretOrChangedBody() {
        let signature = WebhookSignature.sign(body: Data("{}".utf8), secret: "a")
        #expect(!WebhookSignature.isValid(header: signature, body: Data("{}".utf8), secret: "b"))
        #expect(!WebhookSignature.isValid(header: signature, body: Data("{} ".utf8), secret: "a"))
    }

    @Test func tokenComparison() {
        #expect(WebhookSignature.tokensEqual("abc", "abc"))
        #expect(!WebhookSignature.tokensEqual("abc", "abd"))
        #expect(!WebhookSignature.tokensEqual("abc", "abcd"))
        #expect(!WebhookSignature.tokensEqual("", "a"))
    }
}
