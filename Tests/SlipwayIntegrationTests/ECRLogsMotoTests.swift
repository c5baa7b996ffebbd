import Foundation
import SlipwayAWS
import SlipwayDocker
import SlipwayCore
import SlipwayRuntime
import Testing

/// ECR and CloudWatch Logs through moto with signature checking.
@Suite(.enabled(if: TestStack.enabled))
struct ECRLogsMotoTests {
    @Test func repositoriesImagesAndLogins() async throws {
        let client = try ECSRuntimeMotoTests.client()
        let ecr = ECRAPI(client: client)
        let name = "it/\(UUID().uuidString.prefix(8).lowercased())"
        try await ecr.createRepository(name)
        try await ecr.createRepository(name)   // exists already: fine
        #expect(try await ecr.imageDigest(repository: name, tag: "v1") == nil)
        #expect(try await ecr.imageDigest(repository: "no/such-repo", tag: "v1") == nil)

        let manifest = #"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#
        let put = try await client.call(.ecr, "PutImage", body: try JSONSerialization.data(withJSONObject: [
            "repositoryName": name, "imageManifest": manifest, "imageTag": "v1"]))
        let pushed = try #require(((try JSONSerialization.jsonObject(with: put) as? [String: Any])?["image"] as? [String: Any])?["imageId"] as? [String: Any])
        let digest = try #require(pushed["imageDigest"] as? String)
        #expect(try await ecr.imageDigest(repository: name, tag: "v1") == digest)
        #expect(try await ecr.imageDigest(repository: name, digest: digest) == digest)

        let login = try await ecr.login()
        #expect(login.user == "AWS")
        #expect(!login.password.isEmpty)
        let logins = ECRLogins(client: client, fallback: { _ in RegistryLogin(username: "fallback") })
        let auth = try await logins.auth("123456789012.dkr.ecr.us-east-1.amazonaws.com")
        #expect(auth.username == "AWS" && auth.serveraddress == "123456789012.dkr.ecr.us-east-1.amazonaws.com")
        #expect(try await logins.auth("127.0.0.1:5000").username == "fallback")

        // The runtime asks the repository's own region: the same name in another region is not this image.
        let runtime = ECSRuntime(client: client.inRegion("us-west-2"))
        let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        #expect(await runtime.imagePresence(repository: "\(host)/\(name)", tag: "v1") == .present(digest: digest))
        #expect(await runtime.imagePresence(repository: "123456789012.dkr.ecr.us-west-2.amazonaws.com/\(name)", tag: "v1") == .missing)
        #expect(await runtime.imagePresence(repository: "127.0.0.1:5000/\(name)", tag: "v1") == .unknown)

        #expect(try await ecr.deleteImages(repository: name, digests: [digest]).isEmpty)
        #expect(try await ecr.imageDigest(repository: name, tag: "v1") == nil)
    }

    @Test func aWrongSecretCannotLogIn() async throws {
        let logins = ECRLogins(client: try ECSRuntimeMotoTests.client(secret: "wrong"))
        await #expect(throws: AWSError.self) { try await logins.auth("123456789012.dkr.ecr.us-east-1.amazonaws.com") }
    }

    /// A crashed task's last lines, as the rollback reason quotes them.
    @Test func theLastLinesOfATaskStream() async throws {
        let client = try ECSRuntimeMotoTests.client()
        let group = "/slipway/it-\(UUID().uuidString.prefix(8).lowercased())"
        let stream = LogsAPI.stream(prefix: "web", container: "web", taskARN: "arn:aws:ecs:us-east-1:123456789012:task/prod/abc123")
        func call(_ action: String, _ body: [String: Any]) async throws {
            _ = try await client.call(.logs, action, body: try JSONSerialization.data(withJSONObject: body))
        }
        try await call("CreateLogGroup", ["logGroupName": group])
        try await call("CreateLogStream", ["logGroupName": group, "logStreamName": stream])
        let now = Int(Date().timeIntervalSince1970 * 1000)
        try await call("PutLogEvents", ["logGroupName": group, "logStreamName": stream,
                                        "logEvents": (1...30).map { ["timestamp": now + $0, "message": "line \($0)\n"] }])
        #expect(try await LogsAPI(client: client).tail(group: group, stream: stream, lines: 3) == ["line 28", "line 29", "line 30"])
    }
}
