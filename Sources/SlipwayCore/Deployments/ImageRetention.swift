import Foundation

/// Which images of a service's repository may go: everything Slipway built that no
/// deployment worth keeping refers to. Kept, whatever N is: the live revision, the one a
/// rollback would put back, anything still in flight, and images Slipway did not make.
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

    /// Tags Slipway gives the images it builds: the commit SHA.
    public static func madeBySlipway(_ tag: String) -> Bool {
        tag.count == 40 && tag.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// - Parameters:
    ///   - history: the service's deployments (any order).
    ///   - keep: how many of the newest successful deployments keep their images.
    ///   - pinned: digests kept for other reasons (open previews).
    public static func plan(tags: [Tagged], history: [DeploymentRecord], liveID: Int64?, keep: Int,
                            pinned: Set<String> = []) -> Decision {
        var kept: [String: String] = [:]
        func hold(_ record: DeploymentRecord, _ why: String) {
            for digest in digests(of: record, tags: tags) where kept[digest] == nil { kept[digest] = why }
        }
        let newestFirst = history.sorted { $0.id > $1.id }
        if let live = newestFirst.first(where: { $0.id == liveID }) {
            hold(live, "live (deployment \(live.id))")
            if let target = RolloutDecisions.rollbackTarget(for: live.id, history: history) {
                hold(target, "what a rollback would put back (deployment \(target.id))")
            }
        }
        for record in newestFirst where !record.state.isFinal {
            hold(record, "deployment \(record.id) is \(record.state.rawValue)")
        }
        for record in newestFirst.filter({ $0.state == .succeeded }).prefix(max(0, keep)) {
            hold(record, "one of the last \(keep) successful deployments (deployment \(record.id))")
        }
        for digest in pinned where kept[digest] == nil { kept[digest] = "an open preview" }
        for tagged in tags where !madeBySlipway(tagged.tag) && kept[tagged.digest] == nil {
            kept[tagged.digest] = "tag \(tagged.tag) was not made by Slipway"
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
        if let sha = record.sha { out.formUnion(tags.filter { $0.tag == sha }.map(\.digest)) }
        return out
    }
}
