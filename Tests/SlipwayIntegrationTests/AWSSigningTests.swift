import Foundation
import SlipwayAWS
import Testing

/// SigV4 against moto with signatures checked (deploy/local/moto.sh): the stack's key
/// works, a wrong secret is refused and changes nothing.
@Suite(.enabled(if: TestStack.enabled))
struct AWSSigningTests {
    func client(secret: String? = nil) throws -> AWSClient {
        let key = try TestStack.value("SLIPWAY_STACK_AWS_ACCESS_KEY_ID")
        let realSecret = try TestStack.value("SLIPWAY_STACK_AWS_SECRET_ACCESS_KEY")
        return AWSClient(region: "us-east-1", environment: ["AWS_ENDPOINT_URL": try TestStack.value("SLIPWAY_STACK_AWS_ENDPOINT")],
                         maxAttempts: 1) {
            SigV4.Credentials(accessKeyID: key, secretAccessKey: secret ?? realSecret)
        }
    }

    func clusters(_ client: AWSClient) async throws -> [String] {
        let data = try await client.call(.ecs, "ListClusters")
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["clusterArns"] as? [String] ?? []
    }

    @Test func signedCallsWorkAndAWrongSecretChangesNothing() async throws {
        let name = "it-\(UUID().uuidString.prefix(8).lowercased())"
        let good = try client()
        _ = try await good.call(.ecs, "CreateCluster", body: Data(#"{"clusterName": "\#(name)"}"#.utf8))
        #expect(try await clusters(good).contains { $0.hasSuffix("cluster/\(name)") })

        let bad = try client(secret: "wrongwrongwrongwrongwrongwrongwrongwrong")
        await #expect {
            _ = try await bad.call(.ecs, "CreateCluster", body: Data(#"{"clusterName": "\#(name)-bad"}"#.utf8))
        } throws: { error in
            guard let error = error as? AWSError else { return false }
            return error.code == "SignatureDoesNotMatch" && error.description.contains("check AWS_SECRET_ACCESS_KEY")
        }
        #expect(try await !clusters(good).contains { $0.hasSuffix("cluster/\(name)-bad") })
    }

    @Test func errorsNameTheAPIsCode() async throws {
        await #expect {
            _ = try await client().call(.ecs, "DescribeServices", body: Data(#"{"cluster": "no-such-cluster", "services": ["x"]}"#.utf8))
        } throws: { error in
            (error as? AWSError)?.code == "ClusterNotFoundException"
        }
    }
}
