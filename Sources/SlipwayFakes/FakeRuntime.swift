import Foundation
import SlipwayCore
import SlipwayRuntime
import Synchronization

/// The runtime in memory, for tests of the job handlers' and the reconcile loop's logic:
/// instances are rows a test can crash, a start can be made to fail, and every call is
/// recorded. Crashes are stamped with `now()`, the same wall time the handlers read.
public final class FakeRuntime: Runtime {
    public struct FakeInstance: Sendable, Hashable {
        public var id: String
        public var service: String
        public var environment: DeploymentTarget.Environment
        public var deploymentID: Int64
        public var image: String
        public var sha: String?
        public var running = true
        public var exitCode: Int?
        public var finishedAt: Date?
    }

    public enum Call: Sendable, Hashable {
        case start(Int64), remove(Int64), retire([String]), settle(Int64), restart([String]), tearDown(String)
    }

    struct State {
        var instances: [FakeInstance] = []
        var calls: [Call] = []
        var failStart: [Int64: String] = [:]
        var logLines: [String] = []
        var next = 0
    }

    private let state = Mutex(State())
    let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    // MARK: What a test arranges and reads

    /// The next start of this deployment's revision fails with `message`.
    public func failStart(of deploymentID: Int64, _ message: String) {
        state.withLock { $0.failStart[deploymentID] = message }
    }

    /// Every running instance of the deployment exits with `code`.
    public func crash(_ deploymentID: Int64, exitCode code: Int) {
        let at = now()
        state.withLock { state in
            for index in state.instances.indices where state.instances[index].deploymentID == deploymentID && state.instances[index].running {
                state.instances[index].running = false
                state.instances[index].exitCode = code
                state.instances[index].finishedAt = at
            }
        }
    }

    public func setLogLines(_ lines: [String]) { state.withLock { $0.logLines = lines } }
    public var calls: [Call] { state.withLock { $0.calls } }
    public var all: [FakeInstance] { state.withLock { $0.instances } }

    /// The deployments with a running instance, in order.
    public var running: [Int64] {
        state.withLock { Array(Set($0.instances.filter(\.running).map(\.deploymentID))).sorted() }
    }

    // MARK: Runtime

    public func current(_ revision: Revision) async throws -> RunningRevision? { nil }

    public func start(_ revision: Revision) async throws -> Started {
        let failure = state.withLock { state -> String? in
            state.calls.append(.start(revision.deploymentID))
            // Like the engine: a start begins by removing what an earlier attempt left.
            state.instances.removeAll { $0.deploymentID == revision.deploymentID }
            return state.failStart.removeValue(forKey: revision.deploymentID)
        }
        if let failure { throw RuntimeFailure(failure) }
        state.withLock { state in
            for _ in 0..<max(1, revision.count) {
                state.next += 1
                state.instances.append(FakeInstance(id: "i\(state.next)", service: revision.service, environment: revision.environment,
                                                    deploymentID: revision.deploymentID, image: revision.image, sha: revision.sha))
            }
        }
        return Started(instances: try await instances(of: revision))
    }

    public func instances(of revision: Revision) async throws -> [Instance] {
        state.withLock { state in
            state.instances.filter { $0.deploymentID == revision.deploymentID }.map {
                Instance(id: $0.id, name: "slipway-\(revision.deploymentTarget.runtimeName)-\($0.deploymentID)-\($0.id)", running: $0.running,
                         exitCode: $0.exitCode, finishedAt: $0.finishedAt, detail: $0.running ? "running" : "exited")
            }
        }
    }

    public func retirees(except revision: Revision) async throws -> [String] {
        state.withLock { state in
            state.instances.filter {
                $0.service == revision.service && $0.environment == revision.environment && $0.deploymentID != revision.deploymentID
            }.map(\.id)
        }
    }

    public func retire(_ instances: [String], of revision: Revision) async throws {
        state.withLock { state in
            state.calls.append(.retire(instances))
            state.instances.removeAll { instances.contains($0.id) }
        }
    }

    public func remove(_ revision: Revision) async throws {
        state.withLock { state in
            state.calls.append(.remove(revision.deploymentID))
            state.instances.removeAll { $0.deploymentID == revision.deploymentID }
        }
    }

    public func restart(_ revision: Revision, instances ids: [String]) async throws {
        state.withLock { state in
            state.calls.append(.restart(ids))
            for index in state.instances.indices where ids.contains(state.instances[index].id) {
                state.instances[index].running = true
                state.instances[index].exitCode = nil
                state.instances[index].finishedAt = nil
            }
        }
    }

    public func settle(_ revision: Revision) async throws {
        state.withLock { $0.calls.append(.settle(revision.deploymentID)) }
    }

    public func logTail(_ revision: Revision, instance: String, lines: Int) async throws -> [String] {
        state.withLock { Array($0.logLines.suffix(lines)) }
    }

    public func progress(_ revision: Revision) async throws -> RolloutProgress { .done }

    public func observe(_ policies: [Policy], knownImages: [String: String]) async throws -> [String: [ObservedUnit]] {
        state.withLock { state in
            var units: [String: [Int64: ObservedUnit]] = [:]
            for instance in state.instances where instance.environment == .main {
                var unit = units[instance.service]?[instance.deploymentID]
                    ?? ObservedUnit(deploymentID: instance.deploymentID, sha: instance.sha, image: instance.image, running: 0)
                if instance.running { unit.running += 1 }
                units[instance.service, default: [:]][instance.deploymentID] = unit
            }
            return units.mapValues { $0.values.sorted { ($0.deploymentID ?? 0) < ($1.deploymentID ?? 0) } }
        }
    }

    public func imagePresence(repository: String, tag: String) async -> ImagePresence { .unknown }

    public func tearDown(_ target: DeploymentTarget, policy: Policy?, images: [String]) async throws {
        state.withLock { state in
            state.calls.append(.tearDown("\(target.service)/\(target.environment.rawValue)"))
            state.instances.removeAll { $0.service == target.service && $0.environment == target.environment }
        }
    }

    public func previewTargets(_ policies: [Policy]) async throws -> Set<DeploymentTarget> {
        let known = Set(policies.map(\.service))
        return state.withLock { state in
            Set(state.instances.filter { $0.environment != .main && known.contains($0.service) }
                .map { DeploymentTarget(service: $0.service, environment: $0.environment) })
        }
    }
}
