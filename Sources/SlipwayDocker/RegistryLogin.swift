import Foundation
import SlipwayCore

extension RegistryAuth {
    /// A policy's `imageCredentials`, read now (a rotated secret is picked up at the next use).
    public struct Unreadable: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The login a secret reference holds: its value is `user:password`.
    public static func from(_ reference: SecretReference, registry: String?,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws(Unreadable) -> RegistryAuth {
        let text: String
        switch reference {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw Unreadable(description: "imageCredentials: the environment variable \(name) is not set on the Slipway server")
            }
            text = value
        case .file(let path):
            guard let value = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Unreadable(description: "imageCredentials: \(path) cannot be read on the Slipway server")
            }
            text = value
        case .aws(let arn):
            throw Unreadable(description: "imageCredentials: \(arn.text) is in AWS; reading it from Secrets Manager or SSM is not supported yet: use env: or file:")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let colon = trimmed.firstIndex(of: ":"), colon != trimmed.startIndex else {
            throw Unreadable(description: "imageCredentials (\(reference)) must hold user:password")
        }
        return RegistryAuth(username: String(trimmed[..<colon]), password: String(trimmed[trimmed.index(after: colon)...]), serveraddress: registry)
    }
}
