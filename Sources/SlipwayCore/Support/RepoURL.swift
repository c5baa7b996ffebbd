import Foundation

/// A git repository address from a policy or a webhook, with the key two addresses
/// of the same repository share: `https://GitHub.com/acme/shop.git`,
/// `git@github.com:acme/shop` and `ssh://git@github.com:22/acme/shop.git` all have
/// the key `github.com/acme/shop`. Only the host is case-insensitive: on a server that
/// tells `Team/App` from `team/app` they are two repositories, with two mirrors.
public struct RepoURL: Sendable, Hashable, CustomStringConvertible {
    public enum Transport: String, Sendable { case https, http, ssh, local }

    public let raw: String
    public let transport: Transport
    /// Normalized form for matching; never used to fetch.
    public let key: String

    public var isLocal: Bool { transport == .local }
    public var description: String { raw }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init(_ text: String) throws(Invalid) {
        let raw = text.trimmingCharacters(in: .whitespaces)
        guard !raw.isEmpty else { throw Invalid(message: "repository URL is empty") }
        let lower = raw.lowercased()
        if lower.contains("::") {
            throw Invalid(message: "repository URL `\(raw)` uses a transport helper (`::`); use https://, ssh:// or git@host:path")
        }
        guard !raw.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == " " }) else {
            throw Invalid(message: "repository URL `\(raw)` contains spaces or control characters")
        }
        guard !raw.hasPrefix("-") else {
            throw Invalid(message: "repository URL `\(raw)` starts with `-`")
        }
        self.raw = raw
        if lower.hasPrefix("file://") {
            let path = String(raw.dropFirst("file://".count))
            guard path.hasPrefix("/") else {
                throw Invalid(message: "file URL `\(raw)` must name an absolute path, as in file:///srv/git/shop.git")
            }
            transport = .local
            key = "file://" + Self.normalizedLocalPath(path)
        } else if raw.hasPrefix("/") {
            transport = .local
            key = "file://" + Self.normalizedLocalPath(raw)
        } else if let schemeEnd = lower.range(of: "://") {
            let scheme = String(lower[..<schemeEnd.lowerBound])
            switch scheme {
            case "https": transport = .https
            case "http": transport = .http
            case "ssh", "git+ssh": transport = .ssh
            default:
                throw Invalid(message: "repository URL `\(raw)` uses `\(scheme)://`; use https://, ssh:// or git@host:path")
            }
            let rest = raw[schemeEnd.upperBound...]
            let authority = rest.prefix(while: { $0 != "/" })
            let path = rest.dropFirst(authority.count)
            let hostPort = authority.split(separator: "@", omittingEmptySubsequences: false).last.map(String.init) ?? ""
            guard !hostPort.isEmpty, !path.isEmpty else {
                throw Invalid(message: "repository URL `\(raw)` has no host or no path, as in https://github.com/acme/shop.git")
            }
            key = Self.remoteKey(hostPort: hostPort, path: String(path), transport: transport)
        } else if let colon = raw.firstIndex(of: ":"), raw[..<colon].contains("@") || !raw[..<colon].contains("/") {
            // scp-like: [user@]host:owner/repo.git
            let userHost = raw[..<colon]
            let host = userHost.split(separator: "@").last.map(String.init) ?? ""
            let path = String(raw[raw.index(after: colon)...])
            guard !host.isEmpty, !path.isEmpty else {
                throw Invalid(message: "repository URL `\(raw)` is not host:path, as in git@github.com:acme/shop.git")
            }
            transport = .ssh
            key = Self.remoteKey(hostPort: host, path: path, transport: .ssh)
        } else {
            throw Invalid(message: "repository URL `\(raw)` is not https://, ssh://, git@host:path or file:///path")
        }
    }

    private static func remoteKey(hostPort: String, path: String, transport: Transport) -> String {
        var host = hostPort.lowercased()
        for port in [":443", ":22", ":80"] where host.hasSuffix(port) {
            host = String(host.dropLast(port.count))
        }
        return host + "/" + trimmedRepoPath(path)
    }

    private static func normalizedLocalPath(_ path: String) -> String {
        let standardized = (path as NSString).standardizingPath
        return "/" + trimmedRepoPath(standardized)
    }

    private static func trimmedRepoPath(_ path: String) -> String {
        var p = Substring(path)
        while p.hasPrefix("/") { p = p.dropFirst() }
        while p.hasSuffix("/") { p = p.dropLast() }
        if p.hasSuffix(".git") { p = p.dropLast(4) }
        while p.hasSuffix("/") { p = p.dropLast() }
        return String(p)
    }
}
