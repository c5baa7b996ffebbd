import SlipwayCore
import Foundation
import Synchronization
import SlipwayAWS
import SlipwayDocker

/// Registry logins for ECR hosts from GetAuthorizationToken, kept until shortly before
/// they expire (ECR tokens last 12 hours). Other registries are left to `fallback`.
public final class ECRLogins: Sendable {
    let client: AWSClient
    let fallback: RegistryLoginProvider
    let now: @Sendable () -> Date
    private let cache = Mutex<[String: ECRAPI.Login]>([:])

    /// Fetched again this long before the token expires.
    public static let refreshMargin: TimeInterval = 15 * 60

    public init(client: AWSClient, fallback: @escaping RegistryLoginProvider = RegistryLogin.anonymous,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.client = client
        self.fallback = fallback
        self.now = now
    }

    public var provider: RegistryLoginProvider { { registry in try await self.auth(registry) } }

    public func auth(_ registry: String?) async throws -> RegistryLogin {
        guard let registry, let (region, _) = ECRAPI.repository(of: "\(registry)/x") else { return try await fallback(registry) }
        if let login = cache.withLock({ $0[registry] }),
           login.expiresAt.map({ $0.timeIntervalSince(now()) > Self.refreshMargin }) ?? false {
            return RegistryLogin(username: login.user, password: login.password, serveraddress: registry)
        }
        let account = registry.split(separator: ".").first.map(String.init)
        let login = try await ECRAPI(client: client.inRegion(region)).login(registryID: account)
        cache.withLock { $0[registry] = login }
        return RegistryLogin(username: login.user, password: login.password, serveraddress: registry)
    }
}
