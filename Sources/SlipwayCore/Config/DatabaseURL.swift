import Foundation

/// `postgres://user:password@host:port/database?sslmode=disable` and the socket form
/// `postgres://user@/database?host=/var/run/postgresql`, as libpq reads them.
public struct DatabaseURL: Sendable, Hashable {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public var user: String
    public var password: String?
    public var host: String?
    public var port: Int
    public var socketPath: String?
    public var database: String
    public var tls: TLSMode

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init(parsing text: String) throws(Invalid) {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql" else {
            throw Invalid(message: "DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { $1 }
        user = components.user?.removingPercentEncoding ?? query["user"] ?? "postgres"
        password = components.password?.removingPercentEncoding ?? query["password"]
        let hostParam = query["host"]
        if let hostParam, hostParam.hasPrefix("/") {
            socketPath = hostParam + "/.s.PGSQL.\(components.port ?? Int(query["port"] ?? "") ?? 5432)"
            host = nil
        } else {
            socketPath = nil
            host = (components.host?.isEmpty == false ? components.host : hostParam) ?? "127.0.0.1"
        }
        port = components.port ?? Int(query["port"] ?? "") ?? 5432
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : (path.removingPercentEncoding ?? path)
        switch query["sslmode"] ?? "prefer" {
        case "disable", "allow": tls = .disable
        case "prefer": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        case let other: throw Invalid(message: "sslmode=\(other) is not disable, prefer or require")
        }
    }

    /// The URL with its password replaced, for logs and `config` output.
    public static func redactingPassword(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "redacted"
        return components.string ?? "postgres://[redacted]"
    }
}
