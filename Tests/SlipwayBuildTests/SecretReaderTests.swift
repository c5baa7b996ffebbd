import Foundation
import SlipwayCore
import SlipwaySystem
import Testing

/// Reading what a policy's reference names: only within the rules, also through links.
@Suite struct SecretReaderTests {
    @Test func readsAllowedValuesAndRefusesTheRest() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("secrets-\(UUID().uuidString)").path
        let folder = "\(base)/secrets"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "token-value".write(toFile: "\(folder)/npm", atomically: true, encoding: .utf8)
        try "server-only".write(toFile: "\(base)/server", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(folder)/escape", withDestinationPath: "\(base)/server")
        try FileManager.default.createSymbolicLink(atPath: "\(folder)/alias", withDestinationPath: "npm")
        let reader = SecretReader(rules: SecretRules(environmentPrefixes: ["SLIPWAY_SECRET_"], folders: [folder]),
                                  environment: ["SLIPWAY_SECRET_A": "a-value", "DATABASE_URL": "postgres://x"])
        #expect(try reader.value(.environment("SLIPWAY_SECRET_A"), for: "t") == "a-value")
        #expect(try reader.value(.file("\(folder)/npm"), for: "t") == "token-value")
        #expect(try reader.value(.file("\(folder)/alias"), for: "t") == "token-value")
        #expect(throws: SecretReader.Refused.self) { try reader.value(.file("\(folder)/escape"), for: "t") }
        #expect(throws: SecretReader.Refused.self) { try reader.value(.file("\(base)/server"), for: "t") }
        #expect(throws: SecretReader.Refused.self) { try reader.value(.environment("DATABASE_URL"), for: "t") }
        #expect(throws: SecretReader.Refused.self) { try reader.value(.environment("SLIPWAY_SECRET_UNSET"), for: "t") }
        do {
            _ = try reader.value(.file("\(folder)/escape"), for: "build secret npm")
        } catch {
            #expect(error.description.hasPrefix("build secret npm:"))
            #expect(!error.description.contains("server-only"))
        }
    }
}

@Suite struct SecretValueTests {
    /// An unfilled mount must not become a key anyone knows; `echo secret > file` must match what the provider sends.
    @Test func emptyValuesAreRefusedAndOneTrailingNewlineMayGo() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secret-values-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "".write(toFile: "\(folder)/empty", atomically: true, encoding: .utf8)
        try "hook-secret\n".write(toFile: "\(folder)/lf", atomically: true, encoding: .utf8)
        try "hook-secret\r\n".write(toFile: "\(folder)/crlf", atomically: true, encoding: .utf8)
        try "\n".write(toFile: "\(folder)/newline-only", atomically: true, encoding: .utf8)
        let reader = SecretReader(rules: SecretRules(environmentPrefixes: [], folders: [folder]), environment: [:])
        #expect(throws: SecretReader.Refused.self) { try reader.value(.file("\(folder)/empty"), for: "t") }
        #expect(throws: SecretReader.Refused.self) { try reader.value(.file("\(folder)/newline-only"), for: "t", trimmingNewline: true) }
        #expect(try reader.value(.file("\(folder)/lf"), for: "t", trimmingNewline: true) == "hook-secret")
        #expect(try reader.value(.file("\(folder)/crlf"), for: "t", trimmingNewline: true) == "hook-secret")
        #expect(try reader.value(.file("\(folder)/lf"), for: "t") == "hook-secret\n", "build secrets keep their bytes")
    }
}

@Suite struct OwnCredentialFileTests {
    /// A file one of Slipway's own settings names (a token file, PGPASSFILE) is never a policy's,
    /// even when it sits in a folder policies may read.
    @Test func filesTheServersSettingsNameAreRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("own-files-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "web-identity-token".write(toFile: "\(folder)/token", atomically: true, encoding: .utf8)
        try "ok".write(toFile: "\(folder)/npmrc", atomically: true, encoding: .utf8)
        let reader = SecretReader(rules: SecretRules(environmentPrefixes: [], folders: [folder]),
                                  environment: ["AWS_WEB_IDENTITY_TOKEN_FILE": "\(folder)/token"])
        #expect(throws: SecretReader.Refused.self) { try reader.value(.file("\(folder)/token"), for: "t") }
        #expect(try reader.value(.file("\(folder)/npmrc"), for: "t") == "ok")
    }
}
