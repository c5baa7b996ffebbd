import Foundation
import SlipwayCore

/// Reads what a policy's secret references point at, now (a rotated secret is picked up at
/// the next use), within `rules`: a reference the rules do not allow is refused here too,
/// so a policy stored before the rules changed cannot read past them. A `file:` path is
/// followed through links only as far as it stays in an allowed folder.
public struct SecretReader: Sendable, Hashable {
    public var rules: SecretRules
    public var environment: [String: String]

    public init(rules: SecretRules, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.rules = rules
        self.environment = environment
    }

    /// The rules with no data directory, this process's environment: what a part uses when it is not told.
    public static var standard: SecretReader { SecretReader(rules: .standard(dataDirectory: nil)) }

    public struct Refused: Error, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// Files Slipway's own settings point at (`*_FILE`, AWS's token and credential files,
    /// PGPASSFILE), resolved: never a policy's, even inside an allowed folder.
    var ownFiles: Set<String> {
        let named = environment.filter { key, _ in
            key.hasSuffix("_FILE") || ["PGPASSFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"].contains(key)
        }
        return Set(named.values.compactMap { Confinement.realPath($0) })
    }

    /// Secrets are small: a larger file is refused rather than read whole.
    static let maxBytes = 1 << 20

    /// The value of `reference`, for `what` (`build secret npm`, `imageCredentials`) in messages.
    /// An empty value is refused (an unfilled mount must not become a secret anyone knows);
    /// `trimmingNewline` drops one line break at the end, as `echo secret > file` leaves it.
    public func value(_ reference: SecretReference, for what: String, trimmingNewline: Bool = false) throws(Refused) -> String {
        let value = try read(reference, for: what)
        var scalars = value.unicodeScalars
        if trimmingNewline, scalars.last == "\n" {
            scalars.removeLast()
            if scalars.last == "\r" { scalars.removeLast() }
        }
        let trimmed = String(scalars)
        guard !trimmed.isEmpty else { throw Refused("\(what): \(reference) is empty on the Slipway server") }
        return trimmed
    }

    private func read(_ reference: SecretReference, for what: String) throws(Refused) -> String {
        if let problem = rules.problem(reference) { throw Refused("\(what): \(problem)") }
        switch reference {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw Refused("\(what): the environment variable \(name) is not set on the Slipway server")
            }
            return value
        case .file(let path):
            let real = Confinement.realPath(path)
            guard let real, rules.folders.contains(where: { Confinement(root: $0).contains(real) }) else {
                throw Refused(real == nil ? "\(what): \(path) cannot be read on the Slipway server"
                              : "\(what): \(path) is a link that leads out of the folders policies may read; link only within them")
            }
            if ownFiles.contains(real) {
                throw Refused("\(what): \(path) is a file Slipway's own settings name (a credential of the server), which a policy may never read")
            }
            guard let handle = FileHandle(forReadingAtPath: real) else {
                throw Refused("\(what): \(path) cannot be read on the Slipway server")
            }
            defer { try? handle.close() }
            guard let data = try? handle.read(upToCount: Self.maxBytes + 1), data.count <= Self.maxBytes else {
                throw Refused("\(what): \(path) cannot be read on the Slipway server, or is over 1 MiB")
            }
            return String(decoding: data, as: UTF8.self)
        case .aws(let arn):
            throw Refused("\(what): \(arn.text) is in AWS; reading it from Secrets Manager or SSM is not supported yet: use env: or file:")
        }
    }
}
