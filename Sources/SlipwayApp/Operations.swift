import Foundation
import Logging
import SlipwayCore
import SlipwayRuntime
import SlipwayStore
import SlipwayTelemetry

/// The use cases: what the CLI, the HTTP API and the tests call, so a rule lives here once
/// and no face decides anything. The verbs that change what runs (`deploy`, `rollback`,
/// `cancel`) check their input, then record a deployment and its first job in one
/// transaction; the questions (`status`, `deployment`, `logs`, `plan`, …) read.
public struct Operations: Sendable {
    let store: Store
    /// What `plan` observes; nil where no runtime is wired (plans then say so).
    let runtime: (any Runtime)?
    let logger: Logger
    /// Shared readers for followed deployments (a server); nil: each follower reads for itself.
    let feeds: DeploymentFeeds?
    /// This process's metrics (what `/metrics` serves).
    public let telemetry: Telemetry
    /// The runtime's last answer to "what runs", for a second.
    let observations = ObservationCache()

    public init(store: Store, runtime: (any Runtime)? = nil, feeds: DeploymentFeeds? = nil, telemetry: Telemetry = Telemetry(),
                logger: Logger = Logger(label: "slipway")) {
        self.store = store
        self.runtime = runtime
        self.feeds = feeds
        self.telemetry = telemetry
        self.logger = logger
    }

    /// A request the situation does not allow, with what to do instead.
    public struct Refused: Error, CustomStringConvertible, Sendable {
        public enum Kind: Sendable {
            /// The input is wrong (HTTP 400).
            case invalid
            /// What was named does not exist (404).
            case notFound
            /// The state does not allow it now (409).
            case conflict
        }

        public var kind: Kind
        public var message: String
        public var description: String { message }
        /// What to do about it; by kind when the use case says nothing more particular.
        public var hint: String

        public init(_ kind: Kind, _ message: String, hint: String? = nil) {
            self.kind = kind
            self.message = message
            let general: String = switch kind {
            case .invalid: "fix the request; manifests/openapi.yaml describes every route"
            case .notFound: "`slipway status` (GET /api/v1/services) lists services and their deployments"
            case .conflict: "`slipway status` shows what runs and what is under way now"
            }
            self.hint = hint ?? general
        }
    }

    // MARK: Changing what runs

    /// Builds and rolls out `sha` (default: the tracked branch's newest commit), or rolls out a prebuilt `image`.
    public func deploy(service: String, sha: String?, image: String?, by caller: String? = nil) async throws -> Int64 {
        try await requireService(service)
        if let image {
            guard sha == nil else { throw Refused(.invalid, "give --sha or --image, not both") }
            do {
                let reference = try ImageReference(parsing: image)
                guard reference.tag != nil || reference.digest != nil else {
                    throw Refused(.invalid, "--image \(image) needs a tag or digest, as in \(reference.repository):1.4.2")
                }
            } catch let error as ImageReference.Invalid {
                throw Refused(.invalid, "--image: \(error.message)")
            }
            return try await store.createDeployment(service: service, trigger: .image, sha: nil, image: image, requestedBy: caller,
                                                    firstJob: .rollout)
        }
        if let sha, !(4...64).contains(sha.count) || !sha.allSatisfy(\.isHexDigit) {
            throw Refused(.invalid, "--sha \(sha) is not a commit SHA (4 to 64 hex digits)")
        }
        return try await store.createDeployment(service: service, trigger: .manual, sha: sha?.lowercased(), image: nil,
                                                requestedBy: caller, firstJob: .build)
    }

    /// Rolls back to deployment `to`, or to the last good revision before the live one.
    public func rollback(service: String, to targetID: Int64?, by caller: String? = nil) async throws -> (deployment: Int64, target: DeploymentRecord) {
        let row = try await requireService(service)
        let history = try await store.history(service: service, limit: 200).map(\.record)
        let target: DeploymentRecord
        if let targetID {
            guard let chosen = history.first(where: { $0.id == targetID }) else {
                throw Refused(.notFound, "deployment \(targetID) is not one of \(service)'s; `slipway status \(service)` lists them")
            }
            guard chosen.image != nil else {
                throw Refused(.conflict, "deployment \(targetID) never produced an image (state \(chosen.state.rawValue)); pick one that ran")
            }
            target = chosen
        } else {
            guard let live = row.liveDeploymentID else {
                throw Refused(.conflict, "\(service) runs nothing now; use `slipway rollback \(service) --to ID` to pick a revision")
            }
            let liveImage = history.first { $0.id == live }?.image
            // The last good revision that runs something other than what runs now.
            guard let chosen = RolloutDecisions.rollbackTarget(for: live, history: history.filter { $0.image != liveImage }) else {
                throw Refused(.conflict, "\(service) has no earlier successful deployment to roll back to")
            }
            target = chosen
        }
        let id = try await store.createDeployment(service: service, trigger: .rollback, sha: target.sha, image: target.image,
                                                  digest: target.digest, rollbackOf: target.id, runtimeRef: target.runtimeRef,
                                                  requestedBy: caller, firstJob: .rollout)
        return (id, target)
    }

    /// Stops a deployment that has not gone live: queued jobs end now, a running build is
    /// asked to stop (its worker hears it within a second).
    public func cancel(deploymentID: Int64, by caller: String? = nil) async throws -> (queued: [Int64], running: [Int64]) {
        do {
            let result = try await store.queue.cancel(deploymentID: deploymentID)
            if let caller { try await store.addEvent(deploymentID, kind: "request", key: nil, message: "cancel requested by \(caller)") }
            return result
        } catch let refused as CancelRefused {
            throw Refused(.conflict, refused.message)
        } catch StoreError.unknownDeployment(let id) {
            throw Refused(.notFound, StoreError.unknownDeployment(id).description)
        }
    }

    // MARK: Questions

    /// The status contract for every service, or for one (refused when it does not exist).
    /// - Parameters:
    ///   - after, limit: a page of services by name (all when `limit` is nil); `deployments` per service.
    /// - Parameter timelines: each listed deployment with its timeline (two more queries for the page).
    public func status(service: String? = nil, after: String? = nil, limit: Int? = nil, deployments: Int = 20,
                       timelines: Bool = false) async throws -> [ServiceStatus] {
        guard (0...100).contains(deployments) else { throw Refused(.invalid, "deployments must be 0 to 100 per service") }
        if let limit, !(1...1000).contains(limit) { throw Refused(.invalid, "limit must be 1 to 1000 services") }
        var statuses = try await store.status(service: service, deploymentsPerService: deployments, after: after, limit: limit)
        if let service, statuses.isEmpty { throw Refused(.notFound, StoreError.unknownService(service).description) }
        let shown = Set(statuses.map(\.service))
        // All services' previews are one query; a page of a large installation reads the open ones only once.
        let previews = Dictionary(grouping: try await store.previews(service: service).filter { shown.contains($0.of) }, by: \.of)
        for index in statuses.indices { statuses[index].previews = previews[statuses[index].service] ?? [] }
        await observe(&statuses)
        if timelines {
            let found = try await self.timelines(statuses.flatMap { $0.deployments.map(\.id) })
            for index in statuses.indices {
                for d in statuses[index].deployments.indices {
                    statuses[index].deployments[d].timeline = found[statuses[index].deployments[d].id] ?? []
                }
            }
        }
        return statuses
    }

    /// Asks the runtime what runs of each live revision: one listing of every service, shared by
    /// the requests of the next second (a dashboard and its API clients poll). A runtime that does
    /// not answer within 5 s leaves the statuses as the database has them.
    func observe(_ statuses: inout [ServiceStatus]) async {
        guard let runtime, statuses.contains(where: { $0.liveDeploymentID != nil }) else { return }
        let store = self.store
        let observed = await observations.get(now: ContinuousClock.now) {
            try await withThrowingTaskGroup(of: [String: [ObservedUnit]]?.self) { group in
                group.addTask { try await runtime.observe(try await store.everyPolicy(), knownImages: [:]) }
                group.addTask { try await Task.sleep(for: .seconds(5)); return nil }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
        }
        guard let observed else {
            logger.debug("status: the runtime did not answer; the statuses say what the database recorded")
            return
        }
        for index in statuses.indices {
            guard let live = statuses[index].liveDeploymentID else { continue }
            let units = observed[statuses[index].service] ?? []
            // Docker labels each container with its deployment; an ECS service runs one revision and counts its tasks.
            statuses[index].observed(running: units.filter { $0.deploymentID == live || $0.deploymentID == nil }.reduce(0) { $0 + $1.running })
        }
    }

    // MARK: Previews

    /// The previews of one service (refused when it does not exist) or of all, open ones first.
    public func previews(service: String? = nil) async throws -> [PreviewStatus] {
        if let service { try await requireService(service) }
        return try await store.previews(service: service)
    }

    /// Tears a preview down now, as if its pull request had closed (a later commit to it opens it again).
    public func destroyPreview(service: String, number: Int, by caller: String? = nil) async throws {
        try await requireService(service)
        guard PreviewRules.refusal(number: number) == nil else {
            throw Refused(.invalid, "pull request number \(number) is out of range (1 to \(PreviewRules.maxNumber))")
        }
        let target = DeploymentTarget(service: service, environment: .pullRequest(number))
        guard try await store.closePreview(target, reason: caller.map { "destroyed on request by \($0)" } ?? "destroyed on request") else {
            throw Refused(.notFound, "\(service) has no open preview of pull request #\(number); `slipway previews \(service)` lists them")
        }
    }

    public func deployment(_ id: Int64) async throws -> DeploymentRow {
        do { return try await store.deployment(id) } catch StoreError.unknownDeployment {
            throw Refused(.notFound, StoreError.unknownDeployment(id).description)
        }
    }

    /// A deployment's log lines after line `after`, oldest first.
    public func logs(_ id: Int64, after: Int64 = 0, limit: Int = 10_000) async throws -> [LogLine] {
        _ = try await deployment(id)
        return try await store.logs(id, after: after, limit: limit)
    }

    /// The deployment as it happens: everything recorded so far, then what follows, to its end.
    public func follow(_ id: Int64, every interval: Duration = .milliseconds(250), clock: ServiceClock = .continuous) async throws
        -> DeploymentFollower {
        _ = try await deployment(id)
        return DeploymentFollower(store: store, deploymentID: id, interval: interval, clock: clock)
    }

    /// The deployment as it happens, to its end, from the process's shared feed where it has one.
    public func watch(_ id: Int64) async throws -> DeploymentWatch {
        DeploymentWatch(id: id, feeds: feeds, follower: try await follow(id))
    }

    /// Desired against observed, per service. `policies` stands in for the set in force
    /// (what `slipway plan` does with the files on disk).
    public func plan(service: String? = nil, policies: [Policy]? = nil) async throws -> Planner.Result {
        guard let runtime else { throw Refused(.conflict, "this process has no runtime to observe; plan from a server or with `slipway plan`") }
        let result = try await Planner(store: store, runtime: runtime, logger: logger).plan(service: service, policies: policies)
        if let service, result.services.isEmpty {
            throw Refused(.notFound, "no service `\(Terminal.printable(service, limit: 100))` in the policies or the runtime")
        }
        return result
    }

    /// The policy sets read, newest first: applied, or rejected with their errors.
    public func policySets(limit: Int = 10) async throws -> [PolicySetRecord] {
        guard (1...100).contains(limit) else { throw Refused(.invalid, "limit must be 1 to 100 policy sets") }
        return try await store.policySets(limit: limit)
    }

    /// Whether the database answers.
    public func ready() async -> Bool { await store.ping() }

    /// The Prometheus exposition: the gauges read from the database now, with what this
    /// process counted and timed.
    public func metrics() async throws -> [UInt8] {
        let readings = try await store.gaugeSnapshot().readings()
        telemetry.record(readings)
        let services = Set(readings.filter { $0.metric == MetricCatalog.deploymentsByState }.compactMap(\.labels.first))
        telemetry.prepare(MetricCatalog.processZeroSeries + services.sorted().flatMap(DeploymentMetrics.zeroSeries))
        return telemetry.exposition()
    }

    @discardableResult
    func requireService(_ service: String) async throws -> ServiceRow {
        guard let row = try await store.service(named: service) else { throw Refused(.notFound, StoreError.unknownService(service).description) }
        return row
    }
}
