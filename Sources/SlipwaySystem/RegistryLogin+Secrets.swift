import Foundation
import SlipwayCore

extension RegistryLogin {
    /// A policy's `imageCredentials`, read now (a rotated secret is picked up at the next use).
    public struct Unreadable: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The login a secret reference holds: its value is `user:password`. It is for `registry`
    /// (the host of the image it belongs to) and is sent nowhere else.
    public static func from(_ reference: SecretReference, registry: String?, reader: SecretReader) throws(Unreadable) -> RegistryLogin {
        let text: String
        do { text = try reader.value(reference, for: "imageCredentials") } catch { throw Unreadable(description: error.description) }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let colon = trimmed.firstIndex(of: ":"), colon != trimmed.startIndex else {
            throw Unreadable(description: "imageCredentials (\(reference)) must hold user:password")
        }
        return RegistryLogin(username: String(trimmed[..<colon]), password: String(trimmed[trimmed.index(after: colon)...]), serveraddress: registry)
    }
}
