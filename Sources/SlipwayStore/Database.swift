import Logging
import NIOSSL
import PostgresNIO
import SlipwayCore

/// The connection settings PostgresNIO needs, from a `DATABASE_URL`.
public enum Database {
    public static func configuration(_ url: DatabaseURL) -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socket = url.socketPath {
            config = .init(unixSocketPath: socket, username: url.user, password: url.password, database: url.database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch url.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(.makeClientConfiguration())
            case .require: tls = .require(.makeClientConfiguration())
            }
            config = .init(host: url.host ?? "127.0.0.1", port: url.port, username: url.user,
                           password: url.password, database: url.database, tls: tls)
        }
        config.options.maximumConnections = 20
        return config
    }

    public static func connectionConfiguration(_ url: DatabaseURL) -> PostgresConnection.Configuration {
        if let socket = url.socketPath {
            return .init(unixSocketPath: socket, username: url.user, password: url.password, database: url.database)
        }
        let tls: PostgresConnection.Configuration.TLS
        switch url.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try! .init(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try! .init(configuration: .makeClientConfiguration()))
        }
        return .init(host: url.host ?? "127.0.0.1", port: url.port, username: url.user,
                     password: url.password, database: url.database, tls: tls)
    }
}

extension Database {
    /// Opens and closes one connection, so a wrong or unreachable database is reported
    /// at once in plain words instead of after the pool's retries.
    public static func probe(_ url: DatabaseURL, logger: Logger) async throws {
        do {
            let connection = try await PostgresConnection.connect(configuration: connectionConfiguration(url), id: 0, logger: logger)
            try await connection.close()
        } catch let error as PSQLError {
            let place = url.socketPath ?? "\(url.host ?? "127.0.0.1"):\(url.port)"
            let detail = error.serverInfo?[.message] ?? error.underlying.map { "\($0)" } ?? "\(error.code)"
            throw StoreError.unreachable("cannot connect to Postgres at \(place) as \(url.user), database \(url.database): \(detail). Is it running, and is DATABASE_URL right? (`slipway dev` starts a private one)")
        }
    }
}

extension PostgresRandomAccessRow {
    /// `row["name"]` decoded; NULL decodes into an Optional.
    func value<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try self[name].decode(T.self)
    }
}

extension PostgresRowSequence {
    func rows() async throws -> [PostgresRandomAccessRow] {
        try await collect().map { $0.makeRandomAccess() }
    }
}
