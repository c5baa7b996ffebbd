import Foundation
import SlipwayCore
import SlipwayGit
import SlipwayTestSupport

/// The stack's git servers with authentication (deploy/local/gitservers.sh): smart HTTP over
/// HTTPS behind basic auth, and sshd with deploy keys and known_hosts files.
enum GitServers {
    static var https: String { get throws { try TestStack.value("SLIPWAY_STACK_GIT_HTTPS") } }
    static var user: String { get throws { try TestStack.value("SLIPWAY_STACK_GIT_USER") } }
    static var password: String { get throws { try TestStack.value("SLIPWAY_STACK_GIT_PASSWORD") } }
    static var caFile: String { get throws { try TestStack.value("SLIPWAY_STACK_GIT_CA_FILE") } }
    static var ssh: String { get throws { try TestStack.value("SLIPWAY_STACK_GIT_SSH") } }
    static var sshKey: String { get throws { try String(contentsOfFile: try TestStack.value("SLIPWAY_STACK_GIT_SSH_KEY"), encoding: .utf8) } }
    static var sshRSAKey: String { get throws { try String(contentsOfFile: try TestStack.value("SLIPWAY_STACK_GIT_SSH_RSA_KEY"), encoding: .utf8) } }
    static var rsaPassphrase: String { get throws { try TestStack.value("SLIPWAY_STACK_GIT_SSH_RSA_PASSPHRASE") } }
    static var knownHosts: String { get throws { try String(contentsOfFile: try TestStack.value("SLIPWAY_STACK_GIT_KNOWN_HOSTS"), encoding: .utf8) } }
    static var knownHostsWrong: String {
        get throws { try String(contentsOfFile: try TestStack.value("SLIPWAY_STACK_GIT_KNOWN_HOSTS_WRONG"), encoding: .utf8) }
    }
    static var reposDirectory: String { get throws { try TestStack.value("SLIPWAY_STACK_GIT_REPOS") } }

    /// A bare repository both servers serve, pushed from a work tree: `(https URL, ssh URL, repo)`.
    static func repository() throws -> (https: String, ssh: String, repo: TestRepo) {
        let name = "r-\(UUID().uuidString.prefix(8).lowercased())"
        let bare = "\(try reposDirectory)/\(name).git"
        let repo = try TestRepo(bareAt: bare)
        return ("\(try https)/\(name).git", "\(try ssh)\(bare)", repo)
    }
}

/// Always the same access, for fetches that test libgit2's side alone.
struct FixedAccess: GitAccessProvider {
    var access: GitAccess
    func access(for repo: RepoURL) async throws -> GitAccess { access }
}
