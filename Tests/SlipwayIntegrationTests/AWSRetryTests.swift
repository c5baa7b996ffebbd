import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SlipwayAWS
import SlipwayTestSupport
import Synchronization
import Testing

/// Throttling and 5xx are retried (a local server answers them, then 200); other errors
/// are not. Needs no stack: the server is in-process.
@Suite struct AWSRetryTests {
    final class Script: Sendable {
        let answers: Mutex<[(Int, String)]>
        let seen = Mutex(0)
        init(_ answers: [(Int, String)]) { self.answers = Mutex(answers) }
        func next() -> (Int, String) {
            seen.withLock { $0 += 1 }
            return answers.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
        }
    }

    func run(_ script: Script, _ body: @escaping @Sendable (AWSClient) async throws -> Void) async throws {
        let port = try Scratch.freePort()
        let router = Router()
        router.post("/") { _, _ -> Response in
            let (status, text) = script.next()
            return Response(status: .init(code: status), headers: [.contentType: "application/x-amz-json-1.1"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        var logger = Logger(label: "aws-retry-test")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        let client = AWSClient(region: "us-east-1", environment: ["AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)"], maxAttempts: 4) {
            SigV4.Credentials(accessKeyID: "AKIATEST", secretAccessKey: "secret")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            defer { group.cancelAll() }
            // Listening before the first call: a probe through the client would eat the script's answers.
            try await waitFor({ Scratch.isListening(port) }, timeout: .seconds(30))
            try await body(client)
        }
    }

    @Test func throttlingAndServerErrorsAreRetried() async throws {
        let script = Script([(503, "{}"), (400, #"{"__type": "ThrottlingException", "message": "Rate exceeded"}"#), (200, #"{"clusterArns": []}"#)])
        try await run(script) { client in
            let answer = try await client.call(.ecs, "ListClusters")
            #expect(String(decoding: answer, as: UTF8.self) == #"{"clusterArns": []}"#)
        }
        #expect(script.seen.withLock { $0 } == 3)
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let script = Script([(400, #"{"__type": "com.amazonaws#AccessDeniedException", "message": "not allowed: ecs:UpdateService"}"#)])
        try await run(script) { client in
            await #expect {
                _ = try await client.call(.ecs, "UpdateService")
            } throws: { error in
                guard let error = error as? AWSError else { return false }
                return error.code == "AccessDeniedException" && error.description.contains("allow ecs:UpdateService in their IAM policy")
            }
        }
        #expect(script.seen.withLock { $0 } == 1)
    }
}
