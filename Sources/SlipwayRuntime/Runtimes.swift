import SlipwayCore

/// Sends each revision to the runtime of its policy's `deploy.target`.
public struct Runtimes: Runtime {
    let docker: any Runtime
    let ecs: (any Runtime)?
    /// Why there is no ECS runtime (AWS settings missing), said when an ecs service rolls out.
    let ecsUnavailable: String

    public init(docker: any Runtime, ecs: (any Runtime)?, ecsUnavailable: String = "AWS is not configured") {
        self.docker = docker
        self.ecs = ecs
        self.ecsUnavailable = ecsUnavailable
    }

    func pick(_ revision: Revision) throws -> any Runtime {
        switch revision.target {
        case .docker: return docker
        case .ecs:
            guard let ecs else {
                throw RuntimeFailure("\(revision.service) has deploy.target ecs, but this server cannot reach ECS: \(ecsUnavailable)")
            }
            return ecs
        }
    }

    public func current(_ revision: Revision) async throws -> RunningRevision? { try await pick(revision).current(revision) }
    public func start(_ revision: Revision) async throws -> Started { try await pick(revision).start(revision) }
    public func instances(of revision: Revision) async throws -> [Instance] { try await pick(revision).instances(of: revision) }
    public func retirees(except revision: Revision) async throws -> [String] { try await pick(revision).retirees(except: revision) }
    public func retire(_ instances: [String], of revision: Revision) async throws {
        try await pick(revision).retire(instances, of: revision)
    }
    public func remove(_ revision: Revision) async throws { try await pick(revision).remove(revision) }
    public func restart(_ revision: Revision, instances: [String]) async throws {
        try await pick(revision).restart(revision, instances: instances)
    }
    public func settle(_ revision: Revision) async throws { try await pick(revision).settle(revision) }
    public func logTail(_ revision: Revision, instance: String, lines: Int) async throws -> [String] {
        try await pick(revision).logTail(revision, instance: instance, lines: lines)
    }
    public func progress(_ revision: Revision) async throws -> RolloutProgress { try await pick(revision).progress(revision) }

    /// The engine's containers, plus one entry per ecs service when ECS can be asked.
    /// An ecs service without an entry was not observed. When one runtime answers and the
    /// other does not, `PartialObservation` carries what was seen and why the rest was not.
    public func observe(_ policies: [Policy], knownImages: [String: String]) async throws -> [String: [ObservedUnit]] {
        var units: [String: [ObservedUnit]] = [:]
        var problems: [String] = []
        var unobserved: Set<Policy.Target> = []
        let onDocker = policies.filter { $0.deploy.target == .docker }
        do {
            units = try await docker.observe(onDocker, knownImages: knownImages)
        } catch {
            // Only a problem when there is something to see there: docker services, or leftovers of them.
            if !onDocker.isEmpty { problems.append("the Docker engine did not answer (\(error)); drift of docker services is not judged") }
            unobserved.insert(.docker)
        }
        let onECS = policies.filter { $0.deploy.target == .ecs }
        if let ecs, !onECS.isEmpty {
            do {
                units.merge(try await ecs.observe(onECS, knownImages: knownImages)) { _, new in new }
            } catch {
                problems.append("ECS did not answer (\(error)); drift of ecs services is not judged")
                unobserved.insert(.ecs)
            }
        } else if !onECS.isEmpty {
            problems.append("ECS cannot be asked: \(ecsUnavailable); drift of ecs services is not judged")
            unobserved.insert(.ecs)
        }
        if !unobserved.isEmpty {
            throw PartialObservation(units: units, unobserved: unobserved, problem: problems.joined(separator: "; "))
        }
        return units
    }

    public func tearDown(_ target: DeploymentTarget, policy: Policy?, images: [String]) async throws {
        // A preview of an ecs service runs on ECS; the engine may still hold what it built.
        if policy?.deploy.target == .ecs {
            guard let ecs else { throw RuntimeFailure("\(target) runs on ECS, but this server cannot reach ECS: \(ecsUnavailable)") }
            try await ecs.tearDown(target, policy: policy, images: [])
        }
        try await docker.tearDown(target, policy: policy, images: images)
    }

    public func previewTargets(_ policies: [Policy]) async throws -> Set<DeploymentTarget> {
        // Every policy for the engine (a service moved to ECS may have left previews there); ECS only its own.
        var out = try await docker.previewTargets(policies)
        let onECS = policies.filter { $0.deploy.target == .ecs }
        if let ecs, !onECS.isEmpty { out.formUnion(try await ecs.previewTargets(onECS)) }
        return out
    }

    public func imagePresence(repository: String, tag: String) async -> ImagePresence {
        if let ecs {
            let answer = await ecs.imagePresence(repository: repository, tag: tag)
            if answer != .unknown { return answer }
        }
        return await docker.imagePresence(repository: repository, tag: tag)
    }
}

/// Some runtimes answered, some did not: what was seen, and why the rest was not.
public struct PartialObservation: Error, Sendable, CustomStringConvertible {
    public var units: [String: [ObservedUnit]]
    /// The targets whose services were not seen: their drift is not judged.
    public var unobserved: Set<Policy.Target>
    public var problem: String
    public var description: String { problem }
}
