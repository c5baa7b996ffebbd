import Foundation
import Logging
import SlipwayCore
import SlipwayGit
import SlipwayPolicy
import SlipwayStore

/// Keeps the services table equal to the policy source: reads the folder, or fetches the
/// policies repository's branch and reads the path at its head. A set with any error is
/// recorded as rejected with its errors and changes nothing; the last good set stays.
public struct PolicySync: Sendable {
    public enum Outcome: Sendable, Equatable {
        case unchanged
        case applied(revision: String, services: [String])
        case rejected(revision: String, errors: [String])
    }

    public let spec: PolicySourceSpec
    let store: Store
    let git: any GitFetcher
    let allowLocalRepos: Bool
    let secretRules: SecretRules
    let workDirectory: String
    let logger: Logger

    /// Where a service's repository reports when no event names it; nil: not written.
    let reportTarget: (@Sendable (Policy) -> (provider: String, repository: String)?)?

    public init(spec: PolicySourceSpec, store: Store, git: any GitFetcher, allowLocalRepos: Bool,
                secretRules: SecretRules = .standard(dataDirectory: nil), workDirectory: String,
                reportTarget: (@Sendable (Policy) -> (provider: String, repository: String)?)? = nil, logger: Logger) {
        self.reportTarget = reportTarget
        self.secretRules = secretRules
        self.spec = spec
        self.store = store
        self.git = git
        self.allowLocalRepos = allowLocalRepos
        self.workDirectory = workDirectory
        self.logger = logger
    }

    public func refresh() async throws -> Outcome {
        switch spec {
        case .folder(let path):
            return try await settle(revision: Self.digest(ofFolder: path), load: { () throws -> [LocatedPolicy] in try loader.load(path: path) })
        case .git(let repoText, let branch, let path):
            let repo = try RepoURL(repoText)
            try await git.fetch(repo, logger: logger)
            let sha: String
            do {
                sha = try await git.resolve(branch, in: repo)
            } catch {
                throw PolicySourceError(message: "the policies repository \(repoText) has no branch `\(branch)`; fix SLIPWAY_POLICIES (<git URL>#<branch>:<path>)")
            }
            // Nothing new on the branch: no checkout, no parse.
            if try await store.newestPolicyRevision(source: spec.description) == sha { return .unchanged }
            let checkout = "\(workDirectory)/policies-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: checkout) }
            try await git.checkout(sha, of: repo, into: checkout)
            return try await settle(revision: sha) { () throws -> [LocatedPolicy] in
                // Errors name files as the repository has them (`prod/web.yaml`), not the scratch checkout.
                do {
                    return try loader.load(path: path == "." ? checkout : "\(checkout)/\(path)", confinedTo: checkout).map { located in
                        var located = located
                        located.file = Self.relative(located.file, to: checkout)
                        return located
                    }
                } catch let error as PolicyErrors {
                    throw PolicyErrors(error.diagnostics.map { d in
                        var d = d
                        d.file = Self.relative(d.file, to: checkout)
                        return d
                    })
                }
            }
        }
    }

    var loader: PolicyLoader { PolicyLoader(allowLocalRepos: allowLocalRepos, secretRules: secretRules) }

    private func settle(revision: String, load: () throws -> [LocatedPolicy]) async throws -> Outcome {
        let source = spec.description
        do {
            let policies = try load()
            guard try await store.applyPolicySet(source: source, revision: revision, policies: policies.map { ($0.policy, $0.file) })
            else { return .unchanged }
            if let reportTarget {
                try await store.setServiceReportTargets(Dictionary(policies.map { ($0.policy.service, reportTarget($0.policy)) },
                                                                   uniquingKeysWith: { a, _ in a }))
            }
            let names = policies.map(\.policy.service)
            logger.notice("policies applied", metadata: [
                "policies.source": "\(source)", "policies.revision": "\(revision)", "services.count": "\(names.count)",
                "services.names": "\(names.joined(separator: ","))",
            ])
            return .applied(revision: revision, services: names)
        } catch let errors as PolicyErrors {
            let lines = errors.diagnostics.map(\.description)
            guard try await store.rejectPolicySet(source: source, revision: revision, errors: lines) else { return .unchanged }
            logger.error("policies rejected; the last good set stays in force", metadata: [
                "policies.source": "\(source)", "policies.revision": "\(revision)", "errors.count": "\(lines.count)",
                "errors": "\(lines.prefix(20).joined(separator: " | "))",
            ])
            return .rejected(revision: revision, errors: lines)
        }
    }

    static func relative(_ path: String, to base: String) -> String {
        path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
    }

    /// Names and contents of the folder's policy files: the same set, the same digest.
    static func digest(ofFolder path: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: some Sequence<UInt8>) {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        let files = (try? PolicyLoader.policyFiles(at: path)) ?? []
        for file in files {
            mix(Array(file.utf8) + [0])
            mix(FileManager.default.contents(atPath: file) ?? Data())
            mix([0])
        }
        return "files:" + String(hash, radix: 16)
    }
}

public struct PolicySourceError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
