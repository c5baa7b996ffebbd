import Foundation
import SlipwayAWS
import SlipwayCore

/// Runs revisions as an ECS service (`deploy.target: ecs`): each revision is a task
/// definition, a rollout points the service at it, and ECS starts, replaces and drains
/// the tasks. Slipway watches the tasks of the new revision for crashes; restarting them
/// is ECS's job, so `restart`, `settle` and `retire` have nothing to do here.
public struct ECSRuntime: Runtime {
    let client: AWSClient
    let ecs: ECSAPI
    let logs: LogsAPI
    let definitions: TaskDefinitionCache
    /// How many DescribeServices calls run side by side while observing.
    let concurrency: Int

    public init(client: AWSClient, concurrency: Int = 8) {
        self.client = client
        ecs = ECSAPI(client: client)
        logs = LogsAPI(client: client)
        definitions = TaskDefinitionCache()
        self.concurrency = concurrency
    }

    /// The policy and ECS settings a revision runs under. A preview runs as its own ECS
    /// service and task definition family, `NAME-pr-N`, beside the main one.
    static func settings(_ revision: Revision) throws -> (Policy, Policy.ECS) {
        guard var policy = revision.policy, var settings = policy.deploy.ecs else {
            throw RuntimeFailure("\(revision.service) has no deploy.ecs settings; set deploy.ecs.cluster in its policy")
        }
        if revision.environment != .main {
            settings.service = DeploymentTarget(service: settings.service ?? policy.service, environment: revision.environment).runtimeName
            policy.deploy.ecs = settings
        }
        return (policy, settings)
    }

    public func current(_ revision: Revision) async throws -> RunningRevision? {
        let (policy, settings) = try Self.settings(revision)
        return try await Self.translated(cluster: settings.cluster, region: ecs.region) {
            guard let service = try await ecs.describeServices(cluster: settings.cluster, names: [settings.service ?? policy.service])
                    .first(where: \.isActive), !service.taskDefinition.isEmpty,
                  let image = try await definitions.describe(service.taskDefinition, ecs: ecs)?.image else { return nil }
            return RunningRevision(ref: service.taskDefinition, image: image)
        }
    }

    public func start(_ revision: Revision) async throws -> Started {
        let (policy, settings) = try Self.settings(revision)
        let name = settings.service ?? policy.service
        return try await Self.translated(cluster: settings.cluster, region: ecs.region) {
            // The service first: a missing cluster, or a service that cannot be created, is reported before anything is registered.
            let existing = try await ecs.describeServices(cluster: settings.cluster, names: [name]).first { $0.isActive }
            guard existing != nil || !settings.subnets.isEmpty else {
                throw RuntimeFailure("ECS service \(name) does not exist in cluster \(settings.cluster), and Slipway cannot create it without subnets: list them in deploy.subnets (with deploy.securityGroups), or create the service yourself")
            }
            let arn = try await taskDefinition(for: revision, policy: policy)
            guard let existing else {
                guard var request = ECSTemplates.createService(policy, taskDefinition: arn, count: revision.count) else {
                    throw RuntimeFailure("\(revision.service) has no deploy.ecs settings; set deploy.cluster in its policy")
                }
                // A preview behind the ALB: its target group and host rule first, so the service registers into it.
                if revision.environment != .main, let balancer = policy.previews.loadBalancer, let port = policy.deploy.port {
                    let group = try await PreviewLoadBalancer(client: client).ensure(target: revision.deploymentTarget, policy: policy,
                                                                                     balancer: balancer)
                    request["loadBalancers"] = [["targetGroupArn": group, "containerName": policy.service, "containerPort": port]]
                }
                _ = try await ecs.createService(request)
                return Started(ref: arn, instances: [])
            }
            // The same task definition and count again (a redeploy): start fresh tasks. A count alone just scales.
            _ = try await ecs.updateService(cluster: settings.cluster, service: name, taskDefinition: arn, desiredCount: revision.count,
                                            forceNewDeployment: existing.taskDefinition == arn && existing.desiredCount == revision.count)
            return Started(ref: arn, instances: [])
        }
    }

    /// The task definition to run: a pinned one (a rollback's) when it is still ACTIVE and
    /// is either from another family (a revision made elsewhere, put back exactly) or still
    /// what the policy renders for that image; else the family's newest when it already is
    /// what the policy renders; else a new revision.
    func taskDefinition(for revision: Revision, policy: Policy) async throws -> String {
        guard let rendered = ECSTaskDefinition.render(policy, image: revision.image, region: ecs.region) else {
            throw RuntimeFailure("\(revision.service) has no deploy.ecs settings; set deploy.cluster in its policy")
        }
        // Asked afresh, not from the cache: a revision may have been deregistered since.
        if let pinned = revision.ref, let described = try await ecs.describeTaskDefinition(pinned), rendered.canReuse(pinned: described) {
            return pinned
        }
        if let latest = try await ecs.describeTaskDefinition(rendered.family), rendered.matches(described: latest),
           let arn = latest["taskDefinitionArn"] as? String {
            return arn
        }
        return try await ecs.registerTaskDefinition(rendered)
    }

    /// How far ECS's clock and Slipway's may disagree when tasks are matched to a rollout.
    static let clockSkew: TimeInterval = 60

    public func instances(of revision: Revision) async throws -> [Instance] {
        let (policy, settings) = try Self.settings(revision)
        guard let ref = revision.ref else { return [] }
        let name = settings.service ?? policy.service
        let essential = Set(try await definitions.describe(ref, ecs: ecs)?.essential ?? [])
        var arns: [String] = []
        for status in ["RUNNING", "STOPPED"] {
            // A task moving between the two lists while they are read is asked for once.
            for arn in try await ecs.listTasks(cluster: settings.cluster, service: name, desiredStatus: status) where !arns.contains(arn) {
                arns.append(arn)
            }
        }
        let tasks = try await ecs.describeTasks(cluster: settings.cluster, arns: arns)
        // ECS keeps stopped tasks for about an hour: those of an earlier rollout of the same task definition are not this one's.
        let earliest = revision.since.map { $0.addingTimeInterval(-Self.clockSkew).timeIntervalSince1970 }
        return tasks.filter { task in
            guard (task["taskDefinitionArn"] as? String) == ref else { return false }
            guard let earliest, let created = task["createdAt"] as? Double else { return true }
            return created >= earliest
        }.compactMap { task in
            guard let arn = task["taskArn"] as? String else { return nil }
            return Self.instance(arn: arn, outcome: ECSTaskOutcome.of(task, essential: essential))
        }.sorted { $0.name < $1.name }
    }

    /// One task as the crash watch sees it: only an essential container's non-zero exit is an exit.
    public static func instance(arn: String, outcome: ECSTaskOutcome) -> Instance {
        let name = "task \(arn.split(separator: "/").last.map(String.init) ?? arn)"
        switch outcome {
        case .running:
            return Instance(id: arn, name: name, running: true, exitCode: nil, finishedAt: nil, detail: "running")
        case .crashed(let code, let container, let reason, let stoppedAt):
            return Instance(id: arn, name: name, running: false, exitCode: code, finishedAt: stoppedAt ?? Date(),
                            detail: "container \(container): \(reason)")
        case .failedToStart(let reason):
            // Not an exit: ECS's circuit breaker counts tasks that never start.
            return Instance(id: arn, name: name, running: false, exitCode: nil, finishedAt: nil, detail: "failed to start: \(reason)")
        case .stoppedCleanly:
            return Instance(id: arn, name: name, running: false, exitCode: nil, finishedAt: nil, detail: "stopped")
        }
    }

    public func retirees(except revision: Revision) async throws -> [String] { [] }
    public func retire(_ instances: [String], of revision: Revision) async throws {}

    /// Scales the service to zero when it runs `revision`; a service already on another revision is left alone.
    public func remove(_ revision: Revision) async throws {
        let (policy, settings) = try Self.settings(revision)
        let name = settings.service ?? policy.service
        try await Self.translated(cluster: settings.cluster, region: ecs.region) {
            guard let ref = revision.ref,
                  let service = try await ecs.describeServices(cluster: settings.cluster, names: [name]).first(where: \.isActive),
                  service.taskDefinition == ref else { return }
            _ = try await ecs.updateService(cluster: settings.cluster, service: name, taskDefinition: nil, desiredCount: 0)
        }
    }

    public func restart(_ revision: Revision, instances: [String]) async throws {}

    /// A preview's own ECS service goes (scaled to zero, then deleted with its tasks), and so
    /// do its task-definition family's revisions and, with `previews.loadBalancer`, its rule
    /// and target group. The main service is never touched: its name is not the preview's.
    public func tearDown(_ target: DeploymentTarget, policy: Policy?, images: [String]) async throws {
        guard target.environment != .main, let policy, let base = policy.deploy.ecs else { return }
        let name = DeploymentTarget(service: base.service ?? policy.service, environment: target.environment).runtimeName
        try await Self.translated(cluster: base.cluster, region: ecs.region) {
            if try await ecs.describeServices(cluster: base.cluster, names: [name]).contains(where: \.isActive) {
                _ = try await ecs.updateService(cluster: base.cluster, service: name, taskDefinition: nil, desiredCount: 0)
                try await ecs.deleteService(cluster: base.cluster, service: name, force: true)
            }
            for arn in try await ecs.listTaskDefinitions(family: name) {
                try await ecs.deregisterTaskDefinition(arn)
            }
            if let balancer = policy.previews.loadBalancer {
                try await PreviewLoadBalancer(client: client).remove(target: target, balancer: balancer)
            }
        }
    }

    /// The services named `NAME-pr-N` in the clusters of these policies.
    public func previewTargets(_ policies: [Policy]) async throws -> Set<DeploymentTarget> {
        var out: Set<DeploymentTarget> = []
        var byCluster: [String: [(prefix: String, service: String)]] = [:]
        for policy in policies {
            guard let settings = policy.deploy.ecs else { continue }
            byCluster[settings.cluster, default: []].append(((settings.service ?? policy.service) + "-pr-", policy.service))
        }
        for (cluster, services) in byCluster {
            let names = try await Self.translated(cluster: cluster, region: ecs.region) {
                try await ecs.listServices(cluster: cluster).compactMap { $0.split(separator: "/").last.map(String.init) }
            }
            let active = Set(try await ecs.describeServices(cluster: cluster, names: names).filter(\.isActive).map(\.name))
            for name in active {
                for (prefix, service) in services where name.hasPrefix(prefix) {
                    if let environment = DeploymentTarget.Environment(rawValue: "pr-" + name.dropFirst(prefix.count)) {
                        out.insert(DeploymentTarget(service: service, environment: environment))
                    }
                }
            }
        }
        return out
    }

    public func settle(_ revision: Revision) async throws {}

    /// The awslogs stream of the task's essential container, when the task definition logs to CloudWatch.
    public func logTail(_ revision: Revision, instance: String, lines: Int) async throws -> [String] {
        guard let ref = revision.ref, let described = try await definitions.describe(ref, ecs: ecs), let log = described.log else { return [] }
        return try await logs.tail(group: log.group, stream: LogsAPI.stream(prefix: log.prefix, container: log.container, taskARN: instance),
                                   lines: lines)
    }

    public func progress(_ revision: Revision) async throws -> RolloutProgress {
        let (policy, settings) = try Self.settings(revision)
        guard let ref = revision.ref else { return .done }
        return try await Self.translated(cluster: settings.cluster, region: ecs.region) {
            guard let service = try await ecs.describeServices(cluster: settings.cluster, names: [settings.service ?? policy.service]).first
            else { return .done }
            return ECSRollout.progress(service: service, taskDefinition: ref)
        }
    }

    public func observe(_ policies: [Policy], knownImages: [String: String]) async throws -> [String: [ObservedUnit]] {
        var wanted: [String: [(policy: String, name: String)]] = [:]
        for policy in policies {
            guard policy.deploy.target == .ecs, let settings = policy.deploy.ecs else { continue }
            wanted[settings.cluster, default: []].append((policy.service, settings.service ?? policy.service))
        }
        var batches: [(cluster: String, names: [(policy: String, name: String)])] = []
        for (cluster, names) in wanted.sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: names.count, by: ECSAPI.describeServicesBatch) {
                batches.append((cluster, Array(names[start..<min(names.count, start + ECSAPI.describeServicesBatch)])))
            }
        }
        let ecs = self.ecs
        var found: [String: ECSAPI.Service] = [:]
        for part in try await batches.concurrentMap(limit: concurrency, { batch in
            let services = try await ecs.describeServices(cluster: batch.cluster, names: batch.names.map(\.name))
            let byName = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            return batch.names.compactMap { entry in byName[entry.name].map { (entry.policy, $0) } }
        }) {
            for (policy, service) in part { found[policy] = service }
        }
        // Task definitions no deployment recorded (changed outside Slipway, or a first look) are read side by side.
        let unknown = Array(Set(found.values.filter(\.isActive).map(\.taskDefinition)).subtracting(knownImages.keys))
        let definitions = self.definitions
        var described: [String: String] = [:]
        for (ref, image) in try await unknown.concurrentMap(limit: concurrency, { ref in (ref, try await definitions.describe(ref, ecs: ecs)?.image) }) {
            described[ref] = image
        }
        var units: [String: [ObservedUnit]] = [:]
        for entries in wanted.values {
            for entry in entries {
                guard let service = found[entry.policy], service.isActive else {
                    units[entry.policy] = []
                    continue
                }
                let ref = service.taskDefinition
                let image = knownImages[ref] ?? described[ref] ?? ref
                units[entry.policy] = [ObservedUnit(deploymentID: nil, sha: nil, image: image, running: service.runningCount,
                                                    fields: ["deploy.count": "\(service.desiredCount)"], ref: ref)]
            }
        }
        return units
    }

    /// ECR repositories are asked through the ECR API; nil for other registries.
    public func imagePresence(repository: String, tag: String) async -> ImagePresence {
        guard let ecrRepository = ECRAPI.repository(of: "\(repository):\(tag)") else { return .unknown }
        let account = repository.split(separator: ".").first.map(String.init)
        do {
            return try await ECRAPI(client: client.inRegion(ecrRepository.region))
                .imageDigest(repository: ecrRepository.repository, tag: tag, registryID: account).map { .present(digest: $0) } ?? .missing
        } catch {
            return .unknown
        }
    }

    /// Turns AWS errors that retrying cannot fix into a failure of the revision, named in plain words.
    static func translated<T>(cluster: String, region: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AWSError where error.code == "ClusterNotFoundException" {
            throw RuntimeFailure("ECS cluster \(cluster) does not exist in \(region): create it (aws ecs create-cluster --cluster-name \(cluster)) or fix deploy.ecs.cluster")
        } catch let error as AWSError where !error.isRetryable {
            throw RuntimeFailure(error.description)
        }
    }
}

/// Reads ECS's view of a rollout from DescribeServices.
public enum ECSRollout {
    public static func progress(service: ECSAPI.Service, taskDefinition: String) -> RolloutProgress {
        let mine = service.deployments.filter { $0.taskDefinition == taskDefinition }
        guard let deployment = mine.first(where: { $0.status == "PRIMARY" }) ?? mine.first else { return .done }
        switch deployment.rolloutState {
        case "FAILED":
            var text = "ECS's deployment circuit breaker stopped the rollout"
            if let reason = deployment.rolloutStateReason, !reason.isEmpty { text += ": \(reason)" }
            if deployment.failedTasks > 0 { text += " (\(deployment.failedTasks) failed task\(deployment.failedTasks == 1 ? "" : "s"))" }
            return .failed(text)
        case "IN_PROGRESS":
            return .inProgress("\(deployment.runningCount) of \(deployment.desiredCount) tasks running")
        default:
            return .done
        }
    }
}
