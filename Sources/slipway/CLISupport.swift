import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SlipwayApp
import SlipwayCore
import SlipwayStore

/// Opens the database for the length of `body`: the client's connection pool runs
/// beside it and is shut down after.
func withStore<T: Sendable>(_ config: Configuration, logger: Logger = Logs.quiet,
                            migrate: Bool = false, _ body: (Store) async throws -> T) async throws -> T {
    guard let text = config.databaseURL else {
        throw CLIError("DATABASE_URL is not set; set it, or start `slipway dev` (which writes it to SLIPWAY_DATA_DIR/dev.env)")
    }
    let url: DatabaseURL
    do { url = try DatabaseURL(parsing: text) } catch { throw CLIError("DATABASE_URL: \(error)") }
    do {
        return try await Store.open(url, logger: logger, migrate: migrate, body)
    } catch let refused as Operations.Refused {
        // A use case's refusal says what to do: it is the whole message.
        throw CLIError(refused.message)
    } catch let error as PSQLError {
        // PSQLError's description hides the server's words; they are what a user needs here.
        if let message = error.serverInfo?[.message] {
            let hint = message.contains("does not exist") ? " (is the database migrated? `slipway migrate` applies the migrations)" : ""
            throw CLIError("the database refused: \(message)\(hint)")
        }
        throw CLIError("the database at \(DatabaseURL.redactingPassword(text)) did not answer: \(error.code)")
    }
}

/// Prints `value` as the JSON the contracts describe.
func printJSON(_ value: some Encodable) throws {
    let data = try JSONEncoder.slipway.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A refusal or failure to report as `Error: <message>` with exit 1 (no usage text:
/// the command line was fine, the situation was not).
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Configuration {
    /// SLIPWAY_DATA_DIR as an absolute path.
    var absoluteDataDir: String { URL(fileURLWithPath: dataDir).standardizedFileURL.path }

    /// What policies' `env:` and `file:` references may name on this server.
    var policySecretRules: SecretRules { secretRules(dataDirectory: absoluteDataDir) }
}
