import CLibGit2
import Crypto
import Foundation
import SlipwayCore

/// How to reach one repository: the credential to offer (none for a public one), the ssh
/// host keys to trust, and the words that name where they came from, for messages.
public struct GitAccess: Sendable {
    public var credential: GitCredential?
    public var knownHosts: KnownHosts?
    /// `source.credentials (env:SLIPWAY_SECRET_GIT)`, `SLIPWAY_GITHUB_TOKEN`: never the secret.
    public var origin: String?

    public init(credential: GitCredential? = nil, knownHosts: KnownHosts? = nil, origin: String? = nil) {
        self.credential = credential
        self.knownHosts = knownHosts
        self.origin = origin
    }

    public static let anonymous = GitAccess()
}

/// Finds the access for a repository when it is fetched (secrets are read then, so a
/// rotated one is picked up at the next fetch). A refusal (an unreadable secret) is thrown
/// as a `GitError` that says what to fix.
public protocol GitAccessProvider: Sendable {
    func access(for repo: RepoURL) async throws -> GitAccess
}

/// What a fetch's libgit2 callbacks read and note; lives for one fetch, on one thread.
final class FetchSession: @unchecked Sendable {
    let access: GitAccess
    let repo: String
    let host: String
    let port: Int
    /// Key or password offers made: the server asking again means it refused the first.
    var offers = 0
    var refusedCredential = false
    var wantedCredential = false
    var hostKeyProblem: String?

    init(access: GitAccess, url: String, repo: String) {
        self.access = access
        self.repo = repo
        (host, port) = Self.hostPort(url)
    }

    /// Host and port of an ssh or https URL (scp-like `git@host:path` is port 22).
    static func hostPort(_ url: String) -> (String, Int) {
        let lower = url.lowercased()
        guard let schemeEnd = lower.range(of: "://") else {
            let userHost = url.prefix(while: { $0 != ":" })
            return (String(userHost.split(separator: "@").last ?? "").lowercased(), 22)
        }
        let scheme = lower[..<schemeEnd.lowerBound]
        let authority = url[schemeEnd.upperBound...].prefix(while: { $0 != "/" })
        let hostPort = authority.split(separator: "@").last.map(String.init) ?? ""
        let fallback = scheme == "https" ? 443 : scheme == "http" ? 80 : 22
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            let host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let port = Int(hostPort[close...].dropFirst(2)) ?? fallback
            return (host.lowercased(), port)
        }
        let parts = hostPort.split(separator: ":")
        return (String(parts.first ?? "").lowercased(), parts.count > 1 ? Int(parts[1]) ?? fallback : fallback)
    }

    /// The error a failed libgit2 call becomes once the callbacks said why.
    func error(for failure: GitError) -> GitError {
        if let hostKeyProblem {
            return GitError(operation: failure.operation, message: hostKeyProblem, retryable: false)
        }
        if refusedCredential {
            let detail = failure.message.hasPrefix("libgit2 error") ? "" : " (\(failure.message))"
            return GitError(operation: failure.operation,
                            message: "access to \(repo) denied: check \(access.origin ?? "source.credentials"): the server refused it\(detail)",
                            retryable: false)
        }
        if wantedCredential {
            return GitError(operation: failure.operation,
                            message: "access to \(repo) denied: the repository needs credentials and none are set; name them in source.credentials (or SLIPWAY_GITHUB_TOKEN, SLIPWAY_GITLAB_TOKEN, SLIPWAY_BITBUCKET_TOKEN for its host)",
                            retryable: false)
        }
        return failure
    }

    /// Points `callbacks` at this session; the caller keeps the session alive for the call
    /// (`withExtendedLifetime`), as libgit2 holds only a raw pointer to it.
    func install(into callbacks: inout git_remote_callbacks) {
        callbacks.credentials = fetchCredential
        callbacks.certificate_check = fetchCertificateCheck
        callbacks.payload = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Runs one libgit2 call with the callbacks installed, turning its failure into what the
    /// callbacks learnt (refused credentials, an unknown host key).
    func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try withExtendedLifetime(self) { try body() }
        } catch let error as GitError {
            throw self.error(for: error)
        }
    }

    func credential(_ out: UnsafeMutablePointer<UnsafeMutablePointer<git_credential>?>?, userFromURL: String?, allowed: UInt32) -> Int32 {
        guard let credential = access.credential else {
            wantedCredential = true
            return GIT_EAUTH.rawValue
        }
        switch credential {
        case .password(let user, let password):
            guard allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 else { return GIT_PASSTHROUGH.rawValue }
            offers += 1
            guard offers == 1 else { refusedCredential = true; return GIT_EAUTH.rawValue }
            return git_credential_userpass_plaintext_new(out, user, password)
        case .sshKey(let user, let key, let passphrase):
            let name = userFromURL ?? user
            if allowed & GIT_CREDENTIAL_SSH_MEMORY.rawValue != 0 {
                offers += 1
                guard offers == 1 else { refusedCredential = true; return GIT_EAUTH.rawValue }
                return git_credential_ssh_key_memory_new(out, name, nil, key, passphrase)
            }
            if allowed & GIT_CREDENTIAL_USERNAME.rawValue != 0 { return git_credential_username_new(out, name) }
            return GIT_PASSTHROUGH.rawValue
        case .githubApp:
            // Resolved to an installation token before the fetch; reaching here is a wiring fault.
            refusedCredential = true
            return GIT_EAUTH.rawValue
        }
    }

    func checkHostKey(_ cert: UnsafeMutablePointer<git_cert>) -> Int32 {
        guard cert.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2 else { return GIT_PASSTHROUGH.rawValue }
        let hostkey = UnsafeRawPointer(cert).assumingMemoryBound(to: git_cert_hostkey.self).pointee
        let name = port == 22 ? host : "[\(host)]:\(port)"
        guard hostkey.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0, let raw = hostkey.hostkey else {
            hostKeyProblem = "the ssh server \(name) did not show its host key; Slipway cannot check it and will not connect"
            return GIT_ECERTIFICATE.rawValue
        }
        let key = Data(bytes: raw, count: hostkey.hostkey_len)
        let type = Self.keyType(hostkey.raw_type)
        let fingerprint = "SHA256:" + Data(SHA256.hash(data: key)).base64EncodedString().replacingOccurrences(of: "=", with: "")
        let scan = "ssh-keyscan\(port == 22 ? "" : " -p \(port)") \(host)"
        guard let knownHosts = access.knownHosts, !knownHosts.isEmpty else {
            hostKeyProblem = "the host key of \(name) (\(type) \(fingerprint)) is unknown: no known hosts are set; add the host's key to source.knownHosts or to the file SLIPWAY_SSH_KNOWN_HOSTS names (`\(scan)` prints it; check it against the host's published fingerprint)"
            return GIT_ECERTIFICATE.rawValue
        }
        switch knownHosts.verdict(host: host, port: port, keyType: type, key: key) {
        case .known:
            return 0
        case .unknown:
            hostKeyProblem = "the host key of \(name) (\(type) \(fingerprint)) is not in the known hosts; add it to source.knownHosts or SLIPWAY_SSH_KNOWN_HOSTS (`\(scan)` prints it; check it against the host's published fingerprint)"
        case .changed:
            hostKeyProblem = "the host key of \(name) CHANGED: it now shows \(type) \(fingerprint), which the known hosts do not list for it. Someone may be in the middle; if the host's operator confirms a new key, replace the old one in source.knownHosts or SLIPWAY_SSH_KNOWN_HOSTS"
        case .revoked:
            hostKeyProblem = "the host key of \(name) (\(type) \(fingerprint)) is marked @revoked in the known hosts; Slipway will not connect"
        }
        return GIT_ECERTIFICATE.rawValue
    }

    static func keyType(_ raw: git_cert_ssh_raw_type_t) -> String {
        switch raw {
        case GIT_CERT_SSH_RAW_TYPE_RSA: "ssh-rsa"
        case GIT_CERT_SSH_RAW_TYPE_DSS: "ssh-dss"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256: "ecdsa-sha2-nistp256"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384: "ecdsa-sha2-nistp384"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521: "ecdsa-sha2-nistp521"
        case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519: "ssh-ed25519"
        default: "unknown"
        }
    }
}

private let fetchCredential: git_credential_acquire_cb = { out, _, userFromURL, allowed, payload in
    guard let payload else { return GIT_EAUTH.rawValue }
    let session = Unmanaged<FetchSession>.fromOpaque(payload).takeUnretainedValue()
    return session.credential(out, userFromURL: userFromURL.map { String(cString: $0) }, allowed: allowed)
}

private let fetchCertificateCheck: git_transport_certificate_check_cb = { cert, _, _, payload in
    guard let payload, let cert else { return GIT_PASSTHROUGH.rawValue }
    let session = Unmanaged<FetchSession>.fromOpaque(payload).takeUnretainedValue()
    return session.checkHostKey(cert)
}
