import Foundation

/// The ECR calls Slipway makes: registry credentials for pushes and pulls, and what a
/// repository holds.
public struct ECRAPI: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    /// A registry login: `user`/`password` for the registry at `endpoint`, good until `expiresAt`.
    public struct Login: Sendable, Hashable {
        public var user: String
        public var password: String
        public var endpoint: String
        public var expiresAt: Date?
    }

    func json(_ action: String, _ body: [String: Any]) async throws -> [String: Any] {
        let data = try await client.call(.ecr, action, body: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// GetAuthorizationToken, decoded: the token is base64 of `AWS:<password>`.
    /// `registryID` (an account id) asks for another account's registry.
    public func login(registryID: String? = nil) async throws -> Login {
        let answer = try await json("GetAuthorizationToken", registryID.map { ["registryIds": [$0]] } ?? [:])
        guard let data = (answer["authorizationData"] as? [[String: Any]])?.first,
              let token = data["authorizationToken"] as? String else {
            throw AWSError(status: 200, code: "UnexpectedAnswer", message: "no authorizationData in the answer", action: "GetAuthorizationToken")
        }
        return try Self.decodeLogin(token: token, endpoint: data["proxyEndpoint"] as? String ?? "",
                              expiresAt: (data["expiresAt"] as? Double).map { Date(timeIntervalSince1970: $0) })
    }

    /// GetAuthorizationToken's token, decoded into the registry login it stands for.
    public static func decodeLogin(token: String, endpoint: String, expiresAt: Date?) throws -> Login {
        guard let decoded = Data(base64Encoded: token).map({ String(decoding: $0, as: UTF8.self) }),
              let colon = decoded.firstIndex(of: ":") else {
            throw AWSError(status: 200, code: "UnexpectedAnswer", message: "the authorization token is not base64 of user:password",
                           action: "GetAuthorizationToken")
        }
        return Login(user: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]),
                     endpoint: endpoint, expiresAt: expiresAt)
    }

    /// The digest of `repository` at `tag` or `digest`; nil when the repository or image does not exist.
    /// `registryID` (an account id) asks another account's registry.
    public func imageDigest(repository: String, tag: String? = nil, digest: String? = nil, registryID: String? = nil) async throws -> String? {
        var id: [String: Any] = [:]
        if let tag { id["imageTag"] = tag }
        if let digest { id["imageDigest"] = digest }
        var body: [String: Any] = ["repositoryName": repository, "imageIds": [id]]
        if let registryID { body["registryId"] = registryID }
        do {
            let answer = try await json("DescribeImages", body)
            return (answer["imageDetails"] as? [[String: Any]])?.first?["imageDigest"] as? String
        } catch let error as AWSError where error.code == "ImageNotFoundException" || error.code == "RepositoryNotFoundException" {
            return nil
        }
    }

    /// Deletes images by digest; returns the digests ECR reports as failures with their reasons.
    public func deleteImages(repository: String, digests: [String]) async throws -> [String: String] {
        let answer = try await json("BatchDeleteImage", ["repositoryName": repository,
                                                          "imageIds": digests.map { ["imageDigest": $0] }])
        var failures: [String: String] = [:]
        for failure in answer["failures"] as? [[String: Any]] ?? [] {
            let digest = (failure["imageId"] as? [String: Any])?["imageDigest"] as? String ?? "?"
            failures[digest] = failure["failureReason"] as? String ?? failure["failureCode"] as? String ?? "failed"
        }
        return failures
    }

    /// Creates the repository; one that exists already is fine.
    public func createRepository(_ name: String) async throws {
        do {
            _ = try await json("CreateRepository", ["repositoryName": name])
        } catch let error as AWSError where error.code == "RepositoryAlreadyExistsException" {
            return
        }
    }

    /// `123456789012.dkr.ecr.us-west-2.amazonaws.com/team/web` → ("us-west-2", "team/web"); nil for other registries.
    public static func repository(of reference: String) -> (region: String, repository: String)? {
        guard let slash = reference.firstIndex(of: "/") else { return nil }
        let host = reference[..<slash].split(separator: ":").first.map(String.init) ?? ""
        let parts = host.split(separator: ".")
        guard parts.count >= 6, parts[1] == "dkr", parts[2].hasPrefix("ecr"), host.hasSuffix(".amazonaws.com") || host.hasSuffix(".amazonaws.com.cn")
        else { return nil }
        var path = String(reference[reference.index(after: slash)...])
        if let at = path.firstIndex(of: "@") { path = String(path[..<at]) }
        if let colon = path.lastIndex(of: ":"), !path[colon...].contains("/") { path = String(path[..<colon]) }
        return (String(parts[3]), path)
    }
}
