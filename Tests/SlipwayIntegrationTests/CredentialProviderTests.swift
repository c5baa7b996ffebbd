import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SlipwayAWS
import SlipwayTestSupport
import Synchronization
import Testing

/// Temporary credentials fetched the way the SDKs fetch them: the ECS container endpoint
/// and IMDSv2 from in-process servers, web identity from moto's STS; refreshed before expiry.
@Suite struct CredentialProviderTests {
    final class Clock: Sendable {
        let date = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        func now() -> Date { date.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { date.withLock { $0 += seconds } }
    }

    func serve(_ router: Router<BasicRequestContext>, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let port = try Scratch.freePort()
        var logger = Logger(label: "credentials-test")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            defer { group.cancelAll() }
            for _ in 0..<100 {   // until it listens
                if (try? await HTTPClientProbe.ok("http://127.0.0.1:\(port)/ready")) == true { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await body(port)
        }
    }

    static func answer(_ key: String, expires: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return #"{"AccessKeyId": "\#(key)", "SecretAccessKey": "s-\#(key)", "Token": "t-\#(key)", "Expiration": "\#(formatter.string(from: expires))"}"#
    }

    @Test func containerCredentialsAreCachedAndRefreshedBeforeTheyExpire() async throws {
        let clock = Clock()
        let hits = Mutex(0)
        let router = Router()
        router.get("/ready") { _, _ in "ok" }
        router.get("/creds") { request, _ -> Response in
            guard request.headers[.authorization] == "secret-token" else { return Response(status: .unauthorized) }
            let n = hits.withLock { $0 += 1; return $0 }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: Self.answer("AKIA\(n)", expires: clock.now().addingTimeInterval(3600)))))
        }
        try await serve(router) { port in
            let settings = try AWSSettings.resolve(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(port)/creds",
                                                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/token"],
                                                   home: "/nohome") { _ in nil }
            let provider = CredentialProvider(settings: settings, environment: [:], readFile: { $0 == "/token" ? "secret-token\n" : nil },
                                              now: { clock.now() })
            #expect(try await provider.credentials() == .init(accessKeyID: "AKIA1", secretAccessKey: "s-AKIA1", sessionToken: "t-AKIA1"))
            clock.advance(3000)   // 10 minutes left: still good
            #expect(try await provider.credentials().accessKeyID == "AKIA1")
            clock.advance(400)    // under 5 minutes left: fetched again
            #expect(try await provider.credentials().accessKeyID == "AKIA2")
        }
        #expect(hits.withLock { $0 } == 2)
    }

    /// Web identity: the token goes to STS unsigned (moto's STS wants every call signed,
    /// so a local server stands in for it), and the answer's keys are what is handed out.
    @Test func webIdentityThroughSTS() async throws {
        let seen = Mutex<[String]>([])
        let router = Router()
        router.get("/ready") { _, _ in "ok" }
        router.post("/") { request, context -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            seen.withLock { $0 = [body, request.headers[.authorization] ?? "unsigned"] }
            let xml = """
                <AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>
                <AccessKeyId>ASIAWEB</AccessKeyId><SecretAccessKey>s-web</SecretAccessKey><SessionToken>t-web</SessionToken>
                <Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>
                """
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: xml)))
        }
        try await serve(router) { port in
            let environment = ["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:\(port)", "AWS_REGION": "eu-west-1",
                               "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/slipway"]
            let settings = try AWSSettings.resolve(environment: environment, home: "/nohome") { _ in nil }
            let provider = CredentialProvider(settings: settings, environment: environment,
                                              readFile: { $0 == "/var/run/token" ? "eyJhbGciOiJSUzI1NiJ9.e30.c2ln" : nil })
            #expect(try await provider.credentials() == .init(accessKeyID: "ASIAWEB", secretAccessKey: "s-web", sessionToken: "t-web"))
        }
        let (body, authorization) = seen.withLock { ($0[0], $0[1]) }
        #expect(authorization == "unsigned")
        #expect(body.contains("Action=AssumeRoleWithWebIdentity"))
        #expect(body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fslipway"))
        #expect(body.contains("WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.e30.c2ln"))
    }

    @Test func instanceMetadataV2() async throws {
        let router = Router()
        router.get("/ready") { _, _ in "ok" }
        router.put("/latest/api/token") { request, _ -> Response in
            guard request.headers[HTTPField.Name("X-aws-ec2-metadata-token-ttl-seconds")!] != nil else { return Response(status: .badRequest) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "imds-token")))
        }
        router.get("/latest/meta-data/iam/security-credentials/") { request, _ -> Response in
            guard request.headers[HTTPField.Name("X-aws-ec2-metadata-token")!] == "imds-token" else { return Response(status: .unauthorized) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "slipway-role\n")))
        }
        router.get("/latest/meta-data/iam/security-credentials/slipway-role") { request, _ -> Response in
            guard request.headers[HTTPField.Name("X-aws-ec2-metadata-token")!] == "imds-token" else { return Response(status: .unauthorized) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: Self.answer("AKIAIMDS", expires: Date().addingTimeInterval(3600)))))
        }
        try await serve(router) { port in
            let settings = try AWSSettings.resolve(environment: [:], home: "/nohome") { _ in nil }
            let provider = CredentialProvider(settings: settings, environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)"])
            #expect(try await provider.credentials().accessKeyID == "AKIAIMDS")
        }
    }
}

enum HTTPClientProbe {
    static func ok(_ url: String) async throws -> Bool {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(1))
        return response.status == .ok
    }
}
