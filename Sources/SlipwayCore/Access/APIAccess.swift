import Foundation

/// Who may do what through the API: three roles, each a superset of the one before.
public enum APIRole: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case viewer, deployer, admin

    public var description: String { rawValue }

    public func may(_ action: APIAction) -> Bool {
        switch action {
        case .read: true
        case .deploy, .rollback, .cancel, .destroyPreview: self != .viewer
        case .manageTokens: self == .admin
        }
    }

    /// The least role that may do `action`, for what to ask for.
    public static func least(for action: APIAction) -> APIRole {
        allCases.first { $0.may(action) } ?? .admin
    }
}

/// What a request does, in the words a refusal uses ("role viewer cannot roll back").
public enum APIAction: String, Sendable, Hashable, CaseIterable {
    case read, deploy, rollback, cancel, destroyPreview, manageTokens

    public var words: String {
        switch self {
        case .read: "read"
        case .deploy: "deploy"
        case .rollback: "roll back"
        case .cancel: "cancel deployments"
        case .destroyPreview: "destroy previews"
        case .manageTokens: "manage tokens"
        }
    }
}

/// An API token as handed out once: `slw_<id>_<secret>`. The id finds the row; only a hash of
/// the secret is stored, compared in constant time.
public struct APITokenText: Sendable, Hashable {
    public var id: String
    public var secret: String
    public var text: String { "slw_\(id)_\(secret)" }

    /// From 32 random bytes: a 16-hex-digit id and a 32-character secret.
    public init(random: [UInt8]) {
        precondition(random.count >= 32)
        id = random.prefix(8).map { String(format: "%02x", $0) }.joined()
        secret = Data(random.dropFirst(8).prefix(24)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    init(id: String, secret: String) {
        self.id = id
        self.secret = secret
    }

    /// nil for anything not shaped like a token (so nothing is looked up for it).
    public static func parse(_ text: String) -> APITokenText? {
        let parts = text.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "slw", parts[1].count == 16, parts[1].allSatisfy(\.isHexDigit),
              parts[2].count == 32, parts[2].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else { return nil }
        return APITokenText(id: String(parts[1]), secret: String(parts[2]))
    }

    /// Whether two byte strings are equal, in time that depends on their length only.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

/// The caller a request was authenticated as.
public struct APICaller: Sendable, Hashable {
    public var name: String
    public var role: APIRole
    public init(name: String, role: APIRole) {
        self.name = name
        self.role = role
    }
}

/// Why a request was refused before it did anything, with what to do about it.
public struct APIRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable { case unauthenticated, forbidden, badRequest }
    public var kind: Kind
    public var message: String
    public var hint: String
    public var description: String { "\(message) (\(hint))" }

    public static let missing = APIRefusal(kind: .unauthenticated, message: "no token: this API needs Authorization: Bearer TOKEN",
                                           hint: "set SLIPWAY_TOKEN; an admin makes one with `slipway tokens create NAME --role viewer`")
    public static let rejected = APIRefusal(kind: .unauthenticated, message: "token rejected: check SLIPWAY_TOKEN",
                                            hint: "it is unknown, revoked or expired; ask an admin for a new one (`slipway tokens create`)")
    public static let inQuery = APIRefusal(kind: .badRequest, message: "a token in the URL is refused: URLs land in access logs and browser history",
                                           hint: "send it as the Authorization: Bearer header")

    public static func forbidden(_ role: APIRole, _ action: APIAction) -> APIRefusal {
        APIRefusal(kind: .forbidden, message: "role \(role) cannot \(action.words)",
                   hint: "ask for a \(APIRole.least(for: action)) token")
    }
}
