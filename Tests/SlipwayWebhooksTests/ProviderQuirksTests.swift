import Foundation
import SlipwayCore
import SlipwayWebhooks
import Testing

/// Older and partial payload shapes, provider detection, and each provider's proof of the secret.
@Suite struct ProviderQuirksTests {
    func parse(_ headers: [(String, String)], _ body: String) throws -> NormalizedEvent {
        try WebhookParser.parse(headers: WebhookHeaders(headers), body: Data(body.utf8))
    }

    @Test func oldGitLabMergeRequestWithoutActionUsesItsState() throws {
        let event = try parse([("X-Gitlab-Event", "Merge Request Hook")], """
            {"object_kind":"merge_request","project":{"path_with_namespace":"a/b","git_http_url":"https://gl.example.com/a/b.git"},
             "object_attributes":{"iid":7,"state":"merged","source_branch":"f","target_branch":"main","last_commit":{"id":"abc1234"}}}
            """)
        #expect(event.pullRequest?.action == .merged && event.pullRequest?.number == 7)
    }

    @Test func oldGitLabPushWithoutProjectNamesTheRepositoryFromItsHomepage() throws {
        let event = try parse([("X-Gitlab-Event", "Push Hook")], """
            {"object_kind":"push","ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222",
             "repository":{"name":"Diaspora","url":"git@example.com:mike/diaspora.git","homepage":"http://example.com/mike/diaspora",
                           "git_http_url":"http://example.com/mike/diaspora.git","git_ssh_url":"git@example.com:mike/diaspora.git"}}
            """)
        #expect(event.repository?.fullName == "mike/diaspora")
        #expect(event.repository?.cloneURL == "http://example.com/mike/diaspora.git")
    }

    @Test func gitLabSystemHookIsReadByItsObjectKind() throws {
        let event = try parse([("X-Gitlab-Event", "System Hook")], """
            {"object_kind":"tag_push","event_name":"tag_push","ref":"refs/tags/v1","before":"0000000000000000000000000000000000000000",
             "after":"82b3d5ae55f7080f1e6022629cdb57bfae7cccc7","project":{"path_with_namespace":"a/b"}}
            """)
        #expect(event.kind == .tag && event.tag == "v1" && event.deleted == false)
    }

    @Test func bitbucketServerWithoutCloneLinksDerivesTheCloneURLFromItsWebLink() throws {
        let event = try parse([("X-Event-Key", "repo:refs_changed"), ("X-Request-Id", "r")], """
            {"eventKey":"repo:refs_changed","repository":{"slug":"shop","project":{"key":"ACME"},
              "links":{"self":[{"href":"https://bb.example.com/projects/ACME/repos/shop/browse"}]}},
             "changes":[{"ref":{"id":"refs/heads/main","displayId":"main","type":"BRANCH"},"fromHash":"1111111111111111111111111111111111111111","toHash":"2222222222222222222222222222222222222222","type":"UPDATE"}]}
            """)
        #expect(event.provider == .bitbucketServer)
        #expect(event.repository == .init(fullName: "ACME/shop", cloneURL: "https://bb.example.com/scm/acme/shop.git"))
    }

    @Test(arguments: [
        ([("X-Event-Key", "repo:push"), ("X-Request-UUID", "u")], NormalizedEvent.Provider.bitbucket),
        ([("X-Event-Key", "pr:opened"), ("X-Request-Id", "i")], .bitbucketServer),
        ([("X-Event-Key", "repo:refs_changed")], .bitbucketServer),
        ([("X-Event-Key", "pullrequest:created")], .bitbucket),
        ([("X-Event-Key", "repo:modified"), ("X-Hook-UUID", "h")], .bitbucket),
        ([("X-Event-Key", "repo:modified"), ("X-Request-Id", "i")], .bitbucketServer),
        ([("X-Gitlab-Event", "Push Hook")], .gitlab),
        ([("x-github-event", "push")], .github),
    ] as [([(String, String)], NormalizedEvent.Provider)])
    func providerDetection(headers: [(String, String)], expected: NormalizedEvent.Provider) {
        #expect(WebhookParser.provider(for: WebhookHeaders(headers)) == expected)
    }

    @Test func eachProviderProvesTheSecretItsOwnWay() {
        let body = Data(#"{"a":1}"#.utf8)
        let signature = WebhookSignature.sign(body: body, secret: "s3cret")
        func verify(_ provider: NormalizedEvent.Provider, _ headers: [(String, String)]) -> Bool {
            WebhookSignature.verify(provider: provider, headers: WebhookHeaders(headers), body: body, secret: "s3cret")
        }
        #expect(verify(.github, [("X-Hub-Signature-256", signature)]))
        #expect(!verify(.github, [("X-Hub-Signature", signature)]))           // GitHub's SHA-1 header is not enough
        #expect(!verify(.github, [("X-Hub-Signature-256", WebhookSignature.sign(body: Data("{}".utf8), secret: "s3cret"))]))
        #expect(verify(.gitlab, [("X-Gitlab-Token", "s3cret")]))
        #expect(!verify(.gitlab, [("X-Gitlab-Token", "s3cre")]))
        #expect(!verify(.gitlab, [("X-Gitlab-Token", "s3cret ")]))
        #expect(!verify(.gitlab, []))
        // Lengths 256 apart must not compare equal.
        #expect(!WebhookSignature.tokensEqual("s3cret", "s3cret" + String(repeating: "\0", count: 256)))
        #expect(verify(.bitbucket, [("X-Hub-Signature", signature)]))
        #expect(verify(.bitbucketServer, [("X-Hub-Signature", signature)]))
        #expect(!verify(.bitbucketServer, [("X-Hub-Signature", "sha256=" + String(repeating: "0", count: 64))]))
        #expect(!verify(.bitbucket, [("X-Hub-Signature", "sha1=abc")]))
    }

    /// A signed push naming a branch as its commit would have the mirror resolve `refs/heads/<after>`.
    @Test(arguments: ["some-branch", "HEAD", "main~3", "0d1a26e", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c0", ""])
    func aPushMustNameFullCommitSHAs(_ after: String) throws {
        let body = #"{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"\#(after)","repository":{"full_name":"a/b"}}"#
        #expect(throws: WebhookError.self) { try parse([("X-GitHub-Event", "push")], body) }
        let before = #"{"ref":"refs/heads/main","before":"\#(after)","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","repository":{"full_name":"a/b"}}"#
        #expect(throws: WebhookError.self) { try parse([("X-GitHub-Event", "push")], before) }
    }

    @Test func shasAreLowerCasedAndSHA256RepositoriesAccepted() throws {
        let upper = "6113728F27AE82C7B1A177C8D03F9E96E0ADF246"
        let sha256 = String(repeating: "ab", count: 32)
        let event = try parse([("X-GitHub-Event", "push")],
                              #"{"ref":"refs/heads/main","before":"\#(upper)","after":"\#(sha256)","repository":{"full_name":"a/b"}}"#)
        #expect(event.before == upper.lowercased() && event.after == sha256)
    }

    @Test(arguments: ["refs/heads/ma\\u001b[2Jin", "refs/heads/a b", "refs/heads/../x", "refs/heads/x.lock", "refs/heads/a\\u0000"])
    func refsMustBeGitRefNames(_ ref: String) throws {
        let body = #"{"ref":"\#(ref)","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","repository":{"full_name":"a/b"}}"#
        #expect(throws: WebhookError.self) { try parse([("X-GitHub-Event", "push")], body) }
    }

    @Test func aMultiChangeBodyPrintsItsFirstChangeAndAllOfThem() throws {
        let body = """
            {"push":{"changes":[
              {"old":{"type":"branch","name":"main","target":{"hash":"1111111111111111111111111111111111111111"}},"new":{"type":"branch","name":"main","target":{"hash":"2222222222222222222222222222222222222222"}}},
              {"old":null,"new":{"type":"tag","name":"v1","target":{"hash":"3333333333333333333333333333333333333333"}}}]},
             "repository":{"full_name":"acme/shop"}}
            """
        let event = try parse([("X-Event-Key", "repo:push"), ("X-Request-UUID", "u")], body)
        #expect(event.branch == "main" && event.changes?.count == 2)
        let printed = try JSONSerialization.jsonObject(with: JSONEncoder.slipway.encode(event)) as! [String: Any]
        let changes = try #require(printed["changes"] as? [[String: Any]])
        #expect(changes[1]["kind"] as? String == "tag" && changes[1]["tag"] as? String == "v1" && changes[1]["before"] is NSNull)
        #expect(changes[1]["changes"] == nil)
        let all = try WebhookParser.parseAll(headers: WebhookHeaders([("X-Event-Key", "repo:push")]), body: Data(body.utf8))
        #expect(all.map(\.kind) == [.push, .tag])
    }
}
