import ArgumentParser
import Foundation
import Logging
import SlipwayCore

/// Options every verb takes; each overrides the environment variable of the same meaning.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("env-file"), help: "A .env file read below the environment.")
    var envFile: String = ".env"

    @Option(name: .customLong("database-url"), help: "Overrides DATABASE_URL.")
    var databaseURL: String?

    @Option(name: .customLong("data-dir"), help: "Overrides SLIPWAY_DATA_DIR.")
    var dataDir: String?

    @Option(name: .customLong("policies"), help: "Overrides SLIPWAY_POLICIES (a folder of policy files).")
    var policies: String?

    @Option(name: .customLong("http-addr"), help: "Overrides SLIPWAY_HTTP_ADDR (host:port).")
    var httpAddr: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (SLIPWAY_LOG_LEVEL).")
    var logLevel: String?

    @Option(name: .customLong("url"), help: "A Slipway server to talk to instead of the database (SLIPWAY_URL).")
    var url: String?

    @Option(name: .customLong("token"), help: "The API token for --url (SLIPWAY_TOKEN); prefer the variable: flags show in process lists.")
    var token: String?

    var flags: [String: String] {
        var flags: [String: String] = [:]
        flags["DATABASE_URL"] = databaseURL
        flags["SLIPWAY_DATA_DIR"] = dataDir
        flags["SLIPWAY_POLICIES"] = policies
        flags["SLIPWAY_HTTP_ADDR"] = httpAddr
        flags["SLIPWAY_LOG_LEVEL"] = logLevel
        flags["SLIPWAY_URL"] = url
        flags["SLIPWAY_TOKEN"] = token
        return flags
    }

    /// The configuration in force: flags > environment > .env > the dev stack's settings > `defaults`.
    /// `slipway dev` itself passes `readDevEnv: false`: it writes that file, and must not trust the last run's.
    func configuration(defaults: [String: String] = [:], readDevEnv: Bool = true) throws -> Configuration {
        let environment = ProcessInfo.processInfo.environment
        let dotenv = try Self.readEnvFile(envFile)
        // `slipway dev` writes where its private parts listen; other verbs find them there.
        let dataDir = flags["SLIPWAY_DATA_DIR"] ?? environment["SLIPWAY_DATA_DIR"] ?? dotenv["SLIPWAY_DATA_DIR"] ?? ".slipway"
        let devEnv = readDevEnv ? try Self.readEnvFile("\(dataDir)/dev.env") : [:]
        do {
            return try Configuration.resolve(flags: flags, environment: environment, dotenv: devEnv.merging(dotenv) { $1 },
                                             defaults: defaults)
        } catch {
            throw CLIError("configuration: \(error)")
        }
    }

    static func readEnvFile(_ path: String) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        do { return try DotEnv.parse(text) } catch {
            throw CLIError("\(path):\(error.line): \(error.message)")
        }
    }
}

enum Logs {
    /// For verbs that print results: only problems of the libraries reach standard error.
    static var quiet: Logger {
        var logger = Logger(label: "slipway.cli")
        logger.logLevel = .error
        return logger
    }

    /// Logs go to standard error, so `--json` output on standard output stays clean.
    static func bootstrap(level: String) -> Logger {
        let parsed = Logger.Level(rawValue: level.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = parsed
            return SafeLogHandler(wrapped: handler)
        }
        return Logger(label: "slipway")
    }
}
