import SlipwayCore
import Foundation

/// A login to an image registry, in the one form every part uses: the Docker engine (its
/// `X-Registry-Auth`), the registry client (basic, or for a bearer token), ECR's and the
/// docker config's logins, and a policy's `imageCredentials`.
public struct RegistryLogin: Sendable, Hashable {
    public var username: String?
    public var password: String?
    /// The registry host it is for (the engine wants it named).
    public var serveraddress: String?

    public init(username: String? = nil, password: String? = nil, serveraddress: String? = nil) {
        self.username = username
        self.password = password
        self.serveraddress = serveraddress
    }

    /// No login: public registries and local ones without auth.
    public static let none = RegistryLogin()
    /// A provider that logs in nowhere.
    public static let anonymous: RegistryLoginProvider = { _ in .none }

    public var isAnonymous: Bool { username == nil }

    /// The HTTP basic `Authorization` value, when there is a login.
    public var basicAuthorization: String? {
        guard let username else { return nil }
        return "Basic " + Data("\(username):\(password ?? "")".utf8).base64EncodedString()
    }
}

/// The login for a registry host (nil: Docker Hub), looked up when it is needed (ECR's expire).
public typealias RegistryLoginProvider = @Sendable (_ registry: String?) async throws -> RegistryLogin
