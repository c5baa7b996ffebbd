import Foundation
import Logging
import SlipwayCore
import SlipwayRuntime
import SlipwayStore

/// Gathers desired state (policies in force, newest commits from history), observed
/// state (the runtime, the registry) and history, and asks `Reconciler.plan` per service.
public struct Planner: Sendable {
    let store: Store
    let runtime: any Runtime
    let logger: Logger

    public init(store: Store, runtime: any Runtime, logger: Logger) {
        self.store = store
        self.runtime = runtime
        self.logger = logger
    }

    static let registryConcurrency = 16

    public struct Result: Sendable, Codable {
        public var services: [ServicePlan]
        /// Why the runtime could not be observed (drift is then not judged), if it could not.
        public var runtimeProblem: String?
    }

    /// `policies` replaces the set in force (what `slipway plan` does with the files on disk:
    /// "what would change if these were applied").
    public func plan(service: String? = nil, policies: [Policy]? = nil) async throws -> Result {
        var rows = try await store.planningRows(service: service)
        if let policies {
            let declared = Dictionary(policies.map { ($0.service, $0) }, uniquingKeysWith: { a, _ in a })
            rows = rows.map { row in
                var row = row
                if let policy = declared[row.name] { row.policy = policy; row.removed = false } else { row.removed = true }
                return row
            }
            let known = Set(rows.map(\.name))
            for policy in policies where !known.contains(policy.service) && (service == nil || service == policy.service) {
                rows.append(PlanningRow(name: policy.service, policy: policy, removed: false, liveID: nil, history: []))
            }
            rows.sort { $0.name < $1.name }
        }
        var observed: [String: [ObservedUnit]]?
        var unobserved: Set<Policy.Target> = []
        var problem: String?
        do {
            var images: [String: String] = [:]
            for row in rows { for record in row.history { if let ref = record.runtimeRef, let image = record.image { images[ref] = image } } }
            observed = try await runtime.observe(rows.filter { !$0.removed }.map(\.policy), knownImages: images)
        } catch let partial as PartialObservation {
            observed = partial.units
            unobserved = partial.unobserved
            problem = partial.problem.isEmpty ? nil : partial.problem
            logger.warning("runtime partly observed for the plan", metadata: ["error": "\(partial.problem)"])
        } catch {
            problem = "the runtime did not answer (\(error)); drift is not judged"
            logger.warning("runtime not observed for the plan", metadata: ["error": "\(error)"])
        }
        // A deployment that started while the runtime was asked is missing from the history
        // read before: read such a service again, so its revision is not taken for something
        // nobody declared.
        if let observed {
            for (index, row) in rows.enumerated() where !row.removed && Self.mentionsUnknown(observed[row.name] ?? [], history: row.history) {
                guard var newer = try await store.planningRows(service: row.name).first(where: { $0.name == row.name }) else { continue }
                if policies != nil { newer.policy = row.policy; newer.removed = row.removed }
                rows[index] = newer
            }
        }
        var plans: [ServicePlan] = []
        var inputs: [Int: ReconcileInput] = [:]
        for row in rows {
            if row.removed {
                if let units = observed?[row.name]?.filter({ $0.running > 0 }), !units.isEmpty {
                    plans.append(Reconciler.orphan(service: row.name, lastPolicy: row.policy, observed: units))
                }
                continue
            }
            // An ecs service the runtime gave no entry for was not observed; a docker service without containers runs nothing.
            let units = unobserved.contains(row.policy.deploy.target) ? nil
                : row.policy.deploy.target == .docker ? observed.map { $0[row.name] ?? [] }
                : observed?[row.name].map { Self.attributed($0, history: row.history, liveID: row.liveID) }
            let input = ReconcileInput(policy: row.policy, history: row.history, liveID: row.liveID, observed: units)
            let plan = Reconciler.plan(input)
            // Ask the registry only when the answer decides between a build and a rollout.
            if plan.dependsOnRegistry {
                inputs[plans.count] = input
            }
            plans.append(plan)
        }
        // Registry questions go out side by side, a few at a time.
        let questions = inputs.sorted { $0.key < $1.key }.map { (index: $0.key, repository: $0.value.policy.image, tag: plans[$0.key].desiredSHA!) }
        let runtime = self.runtime
        let answers = await questions.concurrentMap(limit: Self.registryConcurrency) { question in
            (question.index, await runtime.imagePresence(repository: question.repository, tag: question.tag))
        }
        for (index, presence) in answers {
            var input = inputs[index]!
            input.registry[plans[index].desiredSHA!] = presence
            plans[index] = Reconciler.plan(input)
        }
        // Previews: what is not live yet or behind its head, and what the sweep would tear down.
        let previews = Dictionary(grouping: try await store.previews(service: service), by: \.of)
        let teardowns = Dictionary(grouping: try await PreviewSweeper.decide(store: store, runtime: runtime, now: Date(), logger: logger),
                                   by: \.target.service)
        for index in plans.indices {
            let actions = PreviewPlanAction.actions(previews: previews[plans[index].service] ?? [],
                                                    teardowns: teardowns[plans[index].service] ?? [])
            if !actions.isEmpty { plans[index].previews = actions }
        }
        // Containers of services this database never declared are left out: another
        // installation sharing the engine may own them.
        return Result(services: plans, runtimeProblem: problem)
    }

    static func mentionsUnknown(_ units: [ObservedUnit], history: [DeploymentRecord]) -> Bool {
        let ids = Set(history.map(\.id))
        let refs = Set(history.compactMap(\.runtimeRef))
        return units.contains { unit in
            if let id = unit.deploymentID { return !ids.contains(id) }
            return unit.ref.map { !refs.contains($0) } ?? false
        }
    }

    /// Names the deployment each unit runs, from the runtime refs Slipway recorded
    /// (ECS: the task definition ARN). A ref no deployment rolled out stays unattributed.
    static func attributed(_ units: [ObservedUnit], history: [DeploymentRecord], liveID: Int64?) -> [ObservedUnit] {
        units.map { unit in
            // Deployments may share a task definition (a count change, a rollback): the live one first.
            guard unit.deploymentID == nil, let ref = unit.ref,
                  let record = history.first(where: { $0.id == liveID && $0.runtimeRef == ref })
                    ?? history.first(where: { $0.runtimeRef == ref && $0.liveAt != nil && !$0.state.endedUnsuccessfully })
                    ?? history.first(where: { $0.runtimeRef == ref })
            else { return unit }
            var unit = unit
            unit.deploymentID = record.id
            unit.sha = record.sha
            return unit
        }
    }
}
