/// An OCI image reference: `[registry[:port]/]path[:tag][@sha256:…]`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// `127.0.0.1:5000`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com`, or nil (the engine's default).
    public var registry: String?
    /// `acme/web`
    public var path: String
    public var tag: String?
    public var digest: String?

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The repository part: `registry/path`.
    public var repository: String { registry.map { "\($0)/\(path)" } ?? path }

    public var description: String {
        var s = repository
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    public func withTag(_ tag: String) -> ImageReference {
        ImageReference(registry: registry, path: path, tag: tag, digest: nil)
    }

    public init(registry: String?, path: String, tag: String?, digest: String?) {
        self.registry = registry
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    public init(parsing text: String) throws(Invalid) {
        var rest = Substring(text)
        guard !rest.isEmpty else { throw Invalid(message: "image reference is empty") }
        if let at = rest.firstIndex(of: "@") {
            let digest = String(rest[rest.index(after: at)...])
            guard Self.isDigest(digest) else {
                throw Invalid(message: "`\(digest)` in `\(text)` is not a digest like sha256:<64 hex>")
            }
            self.digest = digest
            rest = rest[..<at]
        } else {
            digest = nil
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" {
            guard Self.isRegistry(first) else {
                throw Invalid(message: "`\(first)` in `\(text)` is not a registry host[:port]")
            }
            registry = first
            components.removeFirst()
        } else {
            registry = nil
        }
        // A tag is a ':' in the last path component (a ':' in the host is a port).
        if let last = components.last, let colon = last.lastIndex(of: ":") {
            let tag = String(last[last.index(after: colon)...])
            guard Self.isTag(tag) else {
                throw Invalid(message: "`\(tag)` in `\(text)` is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})")
            }
            self.tag = tag
            components[components.count - 1] = String(last[..<colon])
        } else {
            tag = nil
        }
        for component in components where !Self.isPathComponent(component) {
            throw Invalid(message: "`\(component)` in `\(text)` is not a valid repository name part (lowercase letters, digits, `.`, `_`, `-`)")
        }
        path = components.joined(separator: "/")
    }

    static func isDigest(_ s: String) -> Bool {
        let parts = s.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "sha256" || parts[0] == "sha512" else { return false }
        return parts[1].count >= 32 && parts[1].allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    static func isRegistry(_ s: String) -> Bool {
        let hostPort = s.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(hostPort.count), !hostPort[0].isEmpty else { return false }
        if hostPort.count == 2, Int(hostPort[1]).map({ (1...65535).contains($0) }) != true { return false }
        return hostPort[0].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }
    }

    static func isTag(_ s: String) -> Bool {
        guard let first = s.first, s.count <= 128, first != ".", first != "-" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    static func isPathComponent(_ s: String) -> Bool {
        guard let first = s.first, let last = s.last, first.isLetter || first.isNumber,
              last.isLetter || last.isNumber else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || "._-".contains($0)) }
    }
}
