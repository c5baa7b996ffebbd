import Crypto
import Foundation

/// OpenSSH `known_hosts` lines, for checking the key an ssh server presents: plain and
/// hashed (`|1|salt|hash`) host names, `[host]:port` for other ports, `*`/`?` patterns,
/// `@revoked` keys. `@cert-authority` lines are skipped: libgit2 shows raw host keys only.
public struct KnownHosts: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        var patterns: [String]
        var hashed: (salt: Data, hash: Data)?
        var keyType: String
        var key: Data
        var revoked: Bool

        static func == (a: Entry, b: Entry) -> Bool {
            a.patterns == b.patterns && a.hashed?.salt == b.hashed?.salt && a.hashed?.hash == b.hashed?.hash
                && a.keyType == b.keyType && a.key == b.key && a.revoked == b.revoked
        }
        func hash(into hasher: inout Hasher) {
            hasher.combine(patterns)
            hasher.combine(keyType)
            hasher.combine(key)
        }
    }

    var entries: [Entry]

    public init(_ text: String) {
        entries = text.split(whereSeparator: \.isNewline).compactMap { Self.entry(String($0)) }
    }

    public var isEmpty: Bool { entries.isEmpty }

    static func entry(_ line: String) -> Entry? {
        var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = fields.first, !first.hasPrefix("#") else { return nil }
        var revoked = false
        if first.hasPrefix("@") {
            guard first == "@revoked" else { return nil }
            revoked = true
            fields.removeFirst()
        }
        guard fields.count >= 3, let key = Data(base64Encoded: fields[2]) else { return nil }
        let hosts = fields[0]
        if hosts.hasPrefix("|1|") {
            let parts = hosts.split(separator: "|")
            guard parts.count == 3, let salt = Data(base64Encoded: String(parts[1])), let hash = Data(base64Encoded: String(parts[2])) else { return nil }
            return Entry(patterns: [], hashed: (salt, hash), keyType: fields[1], key: key, revoked: revoked)
        }
        return Entry(patterns: hosts.split(separator: ",").map { $0.lowercased() }, hashed: nil, keyType: fields[1], key: key, revoked: revoked)
    }

    public enum Verdict: Sendable, Hashable {
        case known
        /// The host is listed with other keys: changed, or someone in the middle.
        case changed
        /// The key is listed as revoked for this host.
        case revoked
        case unknown
    }

    /// How `key` (the wire-format public key blob) of type `keyType` for `host`:`port` stands.
    public func verdict(host: String, port: Int, keyType: String, key: Data) -> Verdict {
        let name = port == 22 ? host.lowercased() : "[\(host.lowercased())]:\(port)"
        let mine = entries.filter { $0.matches(name) }
        if mine.contains(where: { $0.revoked && $0.key == key }) { return .revoked }
        if mine.contains(where: { !$0.revoked && $0.keyType == keyType && $0.key == key }) { return .known }
        return mine.contains(where: { !$0.revoked }) ? .changed : .unknown
    }
}

extension KnownHosts.Entry {
    func matches(_ name: String) -> Bool {
        if let hashed {
            let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: hashed.salt))
            return Data(mac) == hashed.hash
        }
        var matched = false
        for pattern in patterns {
            if pattern.hasPrefix("!") {
                if Self.glob(String(pattern.dropFirst()), name) { return false }
            } else if Self.glob(pattern, name) {
                matched = true
            }
        }
        return matched
    }

    /// `*` and `?` as OpenSSH reads them in host patterns.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == "?" || p[pi] == t[ti] {
                pi += 1; ti += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
