import Foundation

/// Which images of a repository may go. Only images Slipway deployed (a recorded deployment
/// refers to them) are ever deleted, and of those it keeps, per service using the
/// repository: the live revision, the one a rollback would put back, anything in flight,
/// and the last N successful deployments. Tags no deployment refers to (someone else's
/// images, CI's) are never touched.
public enum ImageRetention {
    /// One tag of the repository and the manifest it points at.
    public struct Tagged: Sendable, Hashable {
        public var tag: String
        public var digest: String
        public init(tag: String, digest: String) {
            self.tag = tag
            self.digest = digest
        }
    }

    public struct Decision: Sendable, Hashable {
        /// Digest → why it stays.
        public var kept: [String: String]
        /// Digests to delete (each with every tag pointing at it), sorted.
        public var delete: [String]
    }

    /// - Parameters:
    ///   - history: the deployments of every service whose images are in this repository.
    ///   - live: each of those services' live deployment id.
    ///   - keep: how many of each service's newest successful deployments keep their images.
    ///   - pinned: digests kept for other reasons (open previews).
    public static func plan(tags: [Tagged], history: [DeploymentRecord], live: [String: Int64], keep: Int,
                            pinned: Set<String> = []) -> Decision {
        var kept: [String: String] = [:]
        func hold(_ record: DeploymentRecord, _ why: String) {
            for digest in digests(of: record, tags: tags) where kept[digest] == nil { kept[digest] = why }
        }
        // The main line's live revision, rollback target and last `keep`: previews are not part of
        // that history (their live images come pinned; one in flight is held below).
        for (service, records) in Dictionary(grouping: history.filter { $0.environment == .main }, by: \.service)
            .sorted(by: { $0.key < $1.key }) {
            let newestFirst = records.sorted { $0.id > $1.id }
            if let liveID = live[service], let current = newestFirst.first(where: { $0.id == liveID }) {
                hold(current, "\(service): live (deployment \(current.id))")
                if let target = RolloutDecisions.rollbackTarget(for: current.id, history: records) {
                    hold(target, "\(service): what a rollback would put back (deployment \(target.id))")
                }
            }
            for record in newestFirst where !record.state.isFinal {
                hold(record, "\(service): deployment \(record.id) is \(record.state.rawValue)")
            }
            for record in newestFirst.filter({ $0.state == .succeeded }).prefix(max(0, keep)) {
                hold(record, "\(service): one of the last \(keep) successful deployments (deployment \(record.id))")
            }
        }
        for record in history where record.environment != .main && !record.state.isFinal {
            hold(record, "\(record.target): deployment \(record.id) is \(record.state.rawValue)")
        }
        for digest in pinned where kept[digest] == nil { kept[digest] = "an open preview" }
        let deployed = history.reduce(into: Set<String>()) { $0.formUnion(digests(of: $1, tags: tags)) }
        for tagged in tags where !deployed.contains(tagged.digest) && kept[tagged.digest] == nil {
            kept[tagged.digest] = "no Slipway deployment refers to it (tag \(tagged.tag))"
        }
        // A delete takes every tag of a manifest: one that someone else also tagged (a release
        // `v1.4.0` on the commit Slipway built) stays for that tag's sake.
        let made = Set(history.compactMap { $0.image.flatMap { try? ImageReference(parsing: $0) }?.tag })
        for tagged in tags where !made.contains(tagged.tag) && kept[tagged.digest] == nil {
            kept[tagged.digest] = "also tagged \(tagged.tag), which Slipway did not make"
        }
        let delete = Set(tags.map(\.digest)).subtracting(kept.keys).sorted()
        return Decision(kept: kept, delete: delete)
    }

    /// The manifests a deployment refers to: its digest, and what its tag points at.
    static func digests(of record: DeploymentRecord, tags: [Tagged]) -> Set<String> {
        var out: Set<String> = []
        if let digest = record.digest { out.insert(digest) }
        if let image = record.image, let reference = try? ImageReference(parsing: image) {
            if let digest = reference.digest { out.insert(digest) }
            if let tag = reference.tag { out.formUnion(tags.filter { $0.tag == tag }.map(\.digest)) }
        }
        return out
    }
}
