/// Which secret references a policy may make. A policy names where a secret lives, and
/// Slipway reads it on the policy's behalf: without limits, `env:DATABASE_URL` or
/// `file:/etc/shadow` would hand the server's own secrets to whoever writes a policy (a
/// build step prints them; a registry login sends them away). So `env:` names must start
/// with a prefix the operator chose (and are never Slipway's own settings) and `file:`
/// paths must lie in a folder the operator chose.
public struct SecretRules: Sendable, Hashable {
    /// `env:` names must start with one of these.
    public var environmentPrefixes: [String]
    /// `file:` paths must lie below one of these (absolute, no trailing slash).
    public var folders: [String]

    public init(environmentPrefixes: [String], folders: [String]) {
        self.environmentPrefixes = environmentPrefixes.filter { !$0.isEmpty }
        self.folders = folders.filter { $0.hasPrefix("/") }.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    public static let defaultPrefix = "SLIPWAY_SECRET_"
    /// A folder of its own under /run/secrets: /run/secrets itself is where Docker mounts the
    /// server's own secrets and Kubernetes and EKS their service-account tokens.
    public static let defaultFolder = "/run/secrets/slipway"

    /// Where platforms mount the credentials of the pod or task Slipway runs as: never a
    /// policy's, whatever the folders say.
    static let platformFolders = ["kubernetes.io", "eks.amazonaws.com", "pods.eks.amazonaws.com", "azure", "gcp"]

    /// `SLIPWAY_SECRET_*` variables, and files in /run/secrets/slipway (a Docker or Kubernetes
    /// secret mounted there) or `<data dir>/secrets`.
    public static func standard(dataDirectory: String?) -> SecretRules {
        SecretRules(environmentPrefixes: [defaultPrefix],
                    folders: [defaultFolder] + (dataDirectory.map { [$0.hasSuffix("/") ? "\($0)secrets" : "\($0)/secrets"] } ?? []))
    }

    /// Variables Slipway (and the SDKs and tools it runs) read for themselves: never a policy's,
    /// whatever the prefixes say. `SLIPWAY_SECRET_` names are left to policies.
    public static func isOwnSetting(_ name: String) -> Bool {
        let upper = name.uppercased()
        if Configuration.keys.contains(upper) || ownNames.contains(upper) { return true }
        if upper.hasPrefix("SLIPWAY_") && !upper.hasPrefix(defaultPrefix) { return true }
        return ownPrefixes.contains { upper.hasPrefix($0) }
    }

    static let ownNames: Set<String> = ["DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE"]
    static let ownPrefixes = ["AWS_", "DOCKER_", "BUILDKIT_"]

    /// Why the policy may not make this reference; nil when it may.
    public func problem(_ reference: SecretReference) -> String? {
        switch reference {
        case .environment(let name):
            if Self.isOwnSetting(name) {
                return "`env:\(name)` is a setting of Slipway's own server, which a policy may never read; "
                    + "put the secret in a variable starting with \(prefixList) instead"
            }
            guard environmentPrefixes.contains(where: { name.hasPrefix($0) }) else {
                return "`env:\(name)` is not a variable policies may read: its name must start with \(prefixList) "
                    + "(SLIPWAY_POLICY_SECRET_PREFIXES sets which)"
            }
            return nil
        case .file(let path):
            let clean = path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
            if clean.split(separator: "/").contains(where: { Self.platformFolders.contains(String($0)) }) {
                return "`file:\(path)` is where the platform mounts the server's own credentials (a service-account token), which a policy may never read"
            }
            guard folders.contains(where: { folder in ("/" + clean).hasPrefix(folder == "/" ? "/" : folder + "/") }) else {
                return "`file:\(path)` is not in a folder policies may read: put the file in \(folderList) "
                    + "(SLIPWAY_POLICY_SECRET_DIRS sets which)"
            }
            return nil
        case .aws:
            return nil
        }
    }

    var prefixList: String {
        environmentPrefixes.isEmpty ? "(no prefix is allowed)" : environmentPrefixes.map { "`\($0)`" }.joined(separator: " or ")
    }

    var folderList: String {
        folders.isEmpty ? "(no folder is allowed)" : folders.map { "\($0)/" }.joined(separator: " or ")
    }
}
