import Foundation
import SlipwayCore
import SlipwayStore

/// The verbs that change what runs (`deploy`, `rollback`), shared by the CLI and the API.
/// Each checks its input, then records a deployment and its first job in one transaction.
public struct Operations: Sendable {
    let store: Store

    public init(store: Store) { self.store = store }

    public struct Refused: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Builds and rolls out `sha` (default: the tracked branch's newest commit), or rolls out a prebuilt `image`.
    public func deploy(service: String, sha: String?, image: String?) async throws -> Int64 {
        guard try await store.service(named: service) != nil else { throw StoreError.unknownService(service) }
        if let image {
            guard sha == nil else { throw Refused(message: "give --sha or --image, not both") }
            do {
                let reference = try ImageReference(parsing: image)
                guard reference.tag != nil || reference.digest != nil else {
                    throw Refused(message: "--image \(image) needs a tag or digest, as in \(reference.repository):1.4.2")
                }
            } catch let error as ImageReference.Invalid {
                throw Refused(message: "--image: \(error.message)")
            }
            return try await store.createDeployment(service: service, trigger: .image, sha: nil, image: image, firstJob: .rollout)
        }
        if let sha, !(4...64).contains(sha.count) || !sha.allSatisfy(\.isHexDigit) {
            throw Refused(message: "--sha \(sha) is not a commit SHA (4 to 64 hex digits)")
        }
        return try await store.createDeployment(service: service, trigger: .manual, sha: sha?.lowercased(), image: nil, firstJob: .build)
    }

    /// Rolls back to deployment `to`, or to the last good revision before the live one.
    public func rollback(service: String, to targetID: Int64?) async throws -> (deployment: Int64, target: DeploymentRecord) {
        guard let row = try await store.service(named: service) else { throw StoreError.unknownService(service) }
        let history = try await store.history(service: service, limit: 200).map(\.record)
        let target: DeploymentRecord
        if let targetID {
            guard let chosen = history.first(where: { $0.id == targetID }) else {
                throw Refused(message: "deployment \(targetID) is not one of \(service)'s; `slipway status \(service)` lists them")
            }
            guard chosen.image != nil else {
                throw Refused(message: "deployment \(targetID) never produced an image (state \(chosen.state.rawValue)); pick one that ran")
            }
            target = chosen
        } else {
            guard let live = row.liveDeploymentID else {
                throw Refused(message: "\(service) runs nothing now; use `slipway rollback \(service) --to ID` to pick a revision")
            }
            let liveImage = history.first { $0.id == live }?.image
            // The last good revision that runs something other than what runs now.
            guard let chosen = RolloutDecisions.rollbackTarget(for: live, history: history.filter { $0.image != liveImage }) else {
                throw Refused(message: "\(service) has no earlier successful deployment to roll back to")
            }
            target = chosen
        }
        let id = try await store.createDeployment(service: service, trigger: .rollback, sha: target.sha, image: target.image,
                                                  digest: target.digest, rollbackOf: target.id, runtimeRef: target.runtimeRef,
                                                  firstJob: .rollout)
        return (id, target)
    }

    /// Stops a deployment that has not gone live: queued jobs end now, a running build is
    /// asked to stop (its worker hears it within a second).
    public func cancel(deploymentID: Int64) async throws -> (queued: [Int64], running: [Int64]) {
        do {
            return try await store.queue.cancel(deploymentID: deploymentID)
        } catch let refused as CancelRefused {
            throw Refused(message: refused.message)
        }
    }
}
