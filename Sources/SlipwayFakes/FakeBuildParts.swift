import Foundation
import Logging
import SlipwayBuild
import SlipwayCore
import SlipwayGit
import SlipwayRegistry
import Synchronization

/// Git in memory: each commit is a set of files; a checkout writes them.
public final class FakeGit: GitFetcher {
    private let commits = Mutex<[String: [String: String]]>([:])
    private let heads = Mutex<[String: String]>([:])

    public init() {}

    /// Adds a commit on `branch` (its new head) and returns its SHA.
    @discardableResult
    public func commit(_ files: [String: String], branch: String = "main") -> String {
        let sha = String(format: "%040x", Int.random(in: 1..<Int.max))
        commits.withLock { $0[sha] = files }
        heads.withLock { $0[branch] = sha }
        return sha
    }

    private let fetchFailure = Mutex<String?>(nil)
    /// Fetches fail so (nil: they succeed again), as an unreachable remote would.
    public func failFetches(_ message: String?) { fetchFailure.withLock { $0 = message } }

    public func fetch(_ repo: RepoURL, logger: Logger) async throws {
        if let message = fetchFailure.withLock({ $0 }) { throw GitError(operation: "fetch", message: message) }
    }

    public func resolve(_ revision: String, in repo: RepoURL) async throws -> String {
        if let head = heads.withLock({ $0[revision] }) { return head }
        guard let sha = commits.withLock({ $0.keys.first { $0.hasPrefix(revision) } }) else {
            throw GitError(operation: "resolve", message: "\(revision) is not in the repository")
        }
        return sha
    }

    public func checkout(_ sha: String, of repo: RepoURL, into directory: String) async throws {
        guard let files = commits.withLock({ $0[sha] }) else { throw GitError(operation: "checkout", message: "no commit \(sha)") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (path, text) in files {
            let file = (directory as NSString).appendingPathComponent(path)
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
    }

    public func changedPaths(from before: String, to after: String, in repo: RepoURL) async throws -> [String]? { nil }
    public func remoteHeads(_ repo: RepoURL) async throws -> [String: String] {
        heads.withLock { Dictionary(uniqueKeysWithValues: $0.map { ("refs/heads/\($0.key)", $0.value) }) }
    }
    public func branchHead(_ branch: String, in repo: RepoURL) async throws -> String? { heads.withLock { $0[branch] } }
    public func isAncestor(_ ancestor: String, of descendant: String, in repo: RepoURL) async throws -> Bool? { nil }

    private let refs = Mutex<[String: String]>([:])
    /// Points a ref (`refs/pull/7/head`) at a commit, as the provider would.
    public func setRef(_ ref: String, to sha: String) { refs.withLock { $0[ref] = sha } }

    public func fetchPullRequest(_ repo: RepoURL, ref: String, from url: String?, as local: String, logger: Logger) async throws -> String {
        let named = refs.withLock { $0[ref] } ?? (ref.hasPrefix("refs/heads/") ? heads.withLock { $0[String(ref.dropFirst(11))] } : nil)
        guard let sha = named else { throw GitError(operation: "fetch", message: "\(ref) is not in \(url ?? repo.raw)") }
        return sha
    }

    public func mergeBase(_ a: String, _ b: String, in repo: RepoURL) async throws -> String? { nil }
}

/// A builder that "pushes" to a `FakeRegistry`: the image reference comes back with a digest.
public final class FakeBuilder: Builder {
    let registry: FakeRegistry?
    private let requests = Mutex<[BuildRequest]>([])
    private let failure = Mutex<BuildFailure?>(nil)

    public init(registry: FakeRegistry? = nil) {
        self.registry = registry
    }

    /// The next build fails so.
    public func failNext(_ failure: BuildFailure) { self.failure.withLock { $0 = failure } }
    public var built: [String] { requests.withLock { $0.map(\.reference.description) } }

    public func build(_ request: BuildRequest, observer: any BuildObserver) async throws -> BuiltImage {
        requests.withLock { $0.append(request) }
        if let failure = failure.withLock({ state in defer { state = nil }; return state }) { throw failure }
        await observer.phase(.building)
        await observer.log(["#1 [1/1] FROM scratch"])
        await observer.phase(.pushing)
        let digest = "sha256:" + String(format: "%064x", abs(request.reference.description.hashValue))
        if let registry, let tag = request.reference.tag {
            registry.put(host: request.reference.registry ?? "docker.io", repository: request.reference.path, tag: tag, digest: digest)
        }
        return BuiltImage(reference: request.reference.description, digest: digest)
    }
}

/// A registry in memory: tags → digests per repository.
public final class FakeRegistry: Registry {
    private let manifests = Mutex<[String: [String: String]]>([:])
    private let deleted = Mutex<[String]>([])

    public init() {}

    public func put(host: String, repository: String, tag: String, digest: String) {
        manifests.withLock { $0["\(host)/\(repository)", default: [:]][tag] = digest }
    }

    public var deletedDigests: [String] { deleted.withLock { $0 } }

    public func manifestDigest(host: String, repository: String, reference: String) async throws -> String? {
        manifests.withLock { tags in
            let repo = tags["\(host)/\(repository)"] ?? [:]
            return repo[reference] ?? (repo.values.contains(reference) ? reference : nil)
        }
    }

    public func tags(host: String, repository: String) async throws -> [String] {
        manifests.withLock { ($0["\(host)/\(repository)"] ?? [:]).keys.sorted() }
    }

    public func deleteManifest(host: String, repository: String, digest: String) async throws {
        deleted.withLock { $0.append(digest) }
        manifests.withLock { $0["\(host)/\(repository)"] = $0["\(host)/\(repository)"]?.filter { $0.value != digest } }
    }

    public func withLogin(_ login: RegistryLogin, at host: String) -> any Registry { self }
}
