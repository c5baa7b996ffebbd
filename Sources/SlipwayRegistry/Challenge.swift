import Foundation

/// A registry's `WWW-Authenticate` answer to an anonymous request: how to log in.
public enum Challenge: Sendable, Hashable {
    /// Send `Authorization: Basic` (htpasswd registries).
    case basic(realm: String?)
    /// Fetch a token from `realm` (distribution's token auth, Harbor, Docker Hub, ECR's v2 endpoint too).
    case bearer(realm: String, service: String?, scope: String?)

    /// `Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a/b:pull"`.
    /// nil for a header this client cannot follow.
    public static func parse(_ header: String) -> Challenge? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") ?? (trimmed.isEmpty ? nil : trimmed.endIndex) else { return nil }
        let scheme = trimmed[..<space].lowercased()
        let parameters = Self.parameters(String(trimmed[space...]))
        switch scheme {
        case "basic": return .basic(realm: parameters["realm"])
        case "bearer":
            guard let realm = parameters["realm"] else { return nil }
            return .bearer(realm: realm, service: parameters["service"], scope: parameters["scope"])
        default: return nil
        }
    }

    /// `key="value", key2=value2`: quoted values may hold commas (scopes like `pull,push`).
    static func parameters(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        var rest = Substring(text)
        while true {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let eq = rest.firstIndex(of: "=") else { break }
            let key = rest[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: eq)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let c = rest.first, c != "\"" {
                    if c == "\\", let next = rest.dropFirst().first {
                        value.append(next)
                        rest = rest.dropFirst(2)
                    } else {
                        value.append(c)
                        rest = rest.dropFirst()
                    }
                }
                rest = rest.dropFirst()
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            out[key] = value
        }
        return out
    }
}
