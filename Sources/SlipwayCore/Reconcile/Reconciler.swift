import Foundation

/// Desired state (the policy in force and the newest commit of its branch) against
/// observed state (what the runtime runs, what the registry holds) and history (what
/// was tried): what to do about one service. Pure; `slipway plan` prints it and the
/// reconcile loop carries out its actions.
public enum Reconciler {
    public static func plan(_ input: ReconcileInput) -> ServicePlan {
        let policy = input.policy
        let history = input.history
        let live = input.liveID.flatMap { id in history.first { $0.id == id } }
        // The newest commit seen on the branch: every push or poll that concerns the
        // service records a deployment, even one superseded before it was built.
        // Only a push the fetched repository confirmed counts: one superseded before it was checked,
        // or refused, might name any commit. (One still queued is in flight: the plan waits for it.)
        let head = history.first { $0.trigger == .push && $0.pushVerified && $0.sha != nil
            && ($0.branch == nil || $0.branch == policy.source.branch) }
        // An operator's deploy, image or rollback that went live after that commit holds until
        // the next one — also once the loop has rolled it out again (self-heal, a policy change).
        let anchor = history.first { ($0.liveAt != nil || $0.id == live?.id) && $0.trigger != .reconcile && $0.trigger != .adopted
            && ![.failed, .rolledBack].contains($0.state) }
        let pinned = anchor.flatMap { anchor in
            [.manual, .image, .rollback].contains(anchor.trigger) && anchor.id > (head?.id ?? 0) ? anchor : nil
        }
        let desiredSHA = pinned.map(\.sha) ?? head?.sha ?? live?.sha
        let desiredDeploy = SpecFields.deploy(policy)
        let desiredBuild = SpecFields.build(policy)
        var base = ServicePlan(service: policy.service, status: .inSync, desiredSHA: desiredSHA, liveSHA: live?.sha,
                               liveDeployment: live?.id, actions: [])

        guard live != nil || head != nil else {
            base.status = .blocked
            base.reason = "no commit of `\(policy.source.branch)` seen yet: push to it, set `source.poll`, or run `slipway deploy \(policy.service) --sha SHA`"
            base.actions = [PlanAction(.nothing, reason: base.reason!)]
            return base
        }

        var differences: [PlanDifference] = []
        if let live {
            if live.sha != desiredSHA {
                differences.append(PlanDifference(field: "image", from: Self.tagged(live.policy?.image ?? policy.image, live.sha),
                                                  to: Self.tagged(policy.image, desiredSHA)))
            }
            if let made = live.policy {
                differences += SpecFields.differences(from: SpecFields.deploy(made), to: desiredDeploy)
                    .filter { $0.field != "image" || live.sha == desiredSHA }
                // The same commit built another way is another image (a prebuilt image is never rebuilt).
                if desiredSHA != nil {
                    differences += SpecFields.differences(from: SpecFields.build(made), to: desiredBuild)
                }
            }
        } else {
            differences.append(PlanDifference(field: "image", from: nil, to: Self.tagged(policy.image, desiredSHA)))
        }
        base.differences = differences
        let inFlight = history.first { !$0.state.isFinal && $0.id != live?.id }

        if differences.isEmpty, let live {
            if inFlight == nil, live.state == .watching {
                base.actions = [PlanAction(.wait, reason: "deployment \(live.id) is in its rollback window")]
                return base
            }
            return drift(input, live: live, base: base, inFlight: inFlight)
        }

        base.status = .needsRollout
        if let inFlight {
            base.status = inFlight.image == nil ? .needsBuild : .needsRollout
            base.reason = "deployment \(inFlight.id) (\(Self.short(inFlight.sha))) is \(inFlight.state.rawValue.replacingOccurrences(of: "_", with: " "))"
            base.actions = [PlanAction(.wait, reason: base.reason!, sha: inFlight.sha, deploymentID: inFlight.id)]
            return base
        }
        // Never retry what failed with the same commit (or prebuilt image) and the same
        // settings: something must change first.
        let sameAttempt: (DeploymentRecord) -> Bool = { record in
            record.state.isFinal && record.state != .superseded
                && (desiredSHA.map { record.sha == $0 } ?? (record.sha == nil && record.image == live?.image))
                && (record.policy.map { SpecFields.deploy($0) == desiredDeploy && SpecFields.build($0) == desiredBuild } ?? true)
        }
        if let last = history.first(where: sameAttempt), last.id != live?.id, last.state.endedUnsuccessfully {
            let subject = desiredSHA.map(Self.short) ?? last.image ?? "its image"
            let retry = desiredSHA.map { "--sha \(Self.short($0))" } ?? "--image \(last.image ?? "IMAGE")"
            base.status = .blocked
            let what = last.state == .cancelled ? "was cancelled" : last.state == .rolledBack ? "was rolled back" : "failed"
            base.reason = "deployment \(last.id) of \(subject) \(what)\(last.reason.map { ": \(Self.firstLine($0))" } ?? ""); it is not retried until a new commit or policy change, or `slipway deploy \(policy.service) \(retry)`"
            base.actions = [PlanAction(.nothing, reason: base.reason!)]
            return base
        }
        guard let sha = desiredSHA else {
            // A pinned prebuilt image whose policy changed: roll the same image out again.
            base.actions = [PlanAction(.rollout, reason: "the policy changed", image: live?.image, deploymentID: live?.id)]
            return base
        }
        if let image = existingImage(sha: sha, input: input) {
            base.actions = [PlanAction(.rollout, reason: live?.sha == sha ? "the policy changed; the image of \(Self.short(sha)) exists"
                                                                            : "the image of \(Self.short(sha)) exists", sha: sha, image: image)]
            return base
        }
        base.status = .needsBuild
        base.actions = [PlanAction(.build, reason: live?.sha == sha ? "the build settings changed" : "\(Self.short(sha)) is the newest commit of `\(policy.source.branch)`", sha: sha)]
        return base
    }

    /// The image of `sha` when one exists that the policy in force would build the same way.
    static func existingImage(sha: String, input: ReconcileInput) -> String? {
        let wanted = SpecFields.build(input.policy)
        let built = input.history.first { $0.sha == sha && $0.digest != nil && $0.policy?.image == input.policy.image }
        if let made = built?.policy, SpecFields.build(made) != wanted { return nil }
        switch input.registry[sha] ?? .unknown {
        case .present(let digest): return "\(input.policy.image)@\(digest)"
        case .missing: return nil
        case .unknown: return built.flatMap { record in record.digest.map { "\(input.policy.image)@\($0)" } }
        }
    }

    /// The live revision is what the policy wants: does the runtime still run it as rolled out?
    static func drift(_ input: ReconcileInput, live: DeploymentRecord, base: ServicePlan, inFlight: DeploymentRecord?) -> ServicePlan {
        var plan = base
        guard let observed = input.observed, inFlight == nil else {
            plan.actions = [PlanAction(.nothing, reason: inFlight.map { "deployment \($0.id) is \($0.state.rawValue)" } ?? "in sync")]
            if let inFlight { plan.actions = [PlanAction(.wait, reason: plan.actions[0].reason, deploymentID: inFlight.id)] }
            return plan
        }
        let policy = input.policy
        let mine = observed.filter { $0.deploymentID == live.id }
        let others = observed.filter { $0.deploymentID != live.id && $0.running > 0 }
        var healable: [PlanDifference] = []
        let running = mine.reduce(0) { $0 + $1.running }
        let want = SpecFields.deploy(policy)
        if running != policy.deploy.count && !mine.contains(where: { $0.fields["deploy.count"] != nil }) {
            healable.append(PlanDifference(field: "running", from: "\(policy.deploy.count)", to: "\(running)", observed: true))
        }
        for unit in mine {
            // An image id (sha256:…) means the engine lost the name it was started with: not a change.
            if let image = live.image, unit.image != image, !unit.image.hasPrefix("sha256:") {
                healable.append(PlanDifference(field: "image", from: image, to: unit.image, observed: true))
            }
            for (field, value) in unit.fields.sorted(by: { $0.key < $1.key }) where want[field] != nil && want[field] != value {
                healable.append(PlanDifference(field: field, from: want[field], to: value, observed: true))
            }
        }
        let history = Dictionary(input.history.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let failed = others.filter { unit in unit.deploymentID.flatMap { history[$0] }.map { [.failed, .rolledBack].contains($0.state) } ?? false }
        var leftovers = others.filter { !failed.contains($0) }
        if policy.deploy.target == .ecs {
            // An ECS service runs one revision: another one in place of the live one is a change to repair, not a leftover to prune.
            healable = healable.filter { !($0.field == "running" && mine.isEmpty && !others.isEmpty) }
            healable += leftovers.map { unit in
                PlanDifference(field: "revision", from: "deployment \(live.id)",
                               to: unit.deploymentID.map { "deployment \($0)" } ?? "\(unit.image) (\(unit.ref ?? "not rolled out by Slipway"))",
                               observed: true)
            }
            leftovers = []
        }
        let leftoverDifferences = leftovers.map { unit in
            PlanDifference(field: unit.deploymentID.map { "deployment \($0)" } ?? "unlabelled \(unit.image)",
                           from: "absent", to: "\(unit.running) running", observed: true)
        }
        plan.differences = healable + leftoverDifferences
        var actions: [PlanAction] = []
        if !failed.isEmpty {
            let ids = failed.compactMap(\.deploymentID)
            actions.append(PlanAction(.rollback, reason: "deployment\(ids.count == 1 ? "" : "s") \(ids.map(String.init).joined(separator: ", ")) failed and still run\(ids.count == 1 ? "s" : ""); \(live.id) stays", deploymentID: live.id, deployments: ids))
            plan.differences += failed.map { PlanDifference(field: "deployment \($0.deploymentID!)", from: "stopped", to: "\($0.running) running", observed: true) }
        }
        // A self-heal that failed is not tried again and again: the drift needs a person.
        let failedHeal = input.history.first { $0.id > live.id && $0.trigger == .reconcile && $0.image == live.image && $0.state.isFinal }
            .flatMap { $0.state.endedUnsuccessfully ? $0 : nil }
        if !healable.isEmpty, policy.sync.selfHeal, let failedHeal {
            plan.differences = healable + leftoverDifferences
            plan.status = .blocked
            plan.reason = "self-heal deployment \(failedHeal.id) \(failedHeal.state == .failed ? "failed" : failedHeal.state.rawValue.replacingOccurrences(of: "_", with: " "))\(failedHeal.reason.map { ": \(Self.firstLine($0))" } ?? ""); repair the runtime by hand or run `slipway deploy \(policy.service)`"
            plan.actions = [PlanAction(.nothing, reason: plan.reason!)]
            return plan
        }
        if !healable.isEmpty {
            actions.append(policy.sync.selfHeal
                ? PlanAction(.selfHeal, reason: "the runtime no longer matches deployment \(live.id)", sha: live.sha, image: live.image, deploymentID: live.id)
                : PlanAction(.nothing, reason: "drift is reported, not repaired: set `sync.selfHeal: true` to restore deployment \(live.id)"))
        }
        if !leftovers.isEmpty {
            let ids = leftovers.compactMap(\.deploymentID)
            actions.append(policy.sync.prune
                ? PlanAction(.prune, reason: "no policy declares \(ids.isEmpty ? "them" : "deployment\(ids.count == 1 ? "" : "s") \(ids.map(String.init).joined(separator: ", "))")", deploymentID: ids.first, deployments: ids)
                : PlanAction(.nothing, reason: "old revisions are reported, not removed: set `sync.prune: true` to remove them"))
        }
        plan.status = plan.differences.isEmpty ? .inSync : .drifted
        plan.actions = actions.isEmpty ? [PlanAction(.nothing, reason: "in sync")] : actions
        return plan
    }

    /// Something runs for a service no policy declares. `lastPolicy` is the one it had.
    public static func orphan(service: String, lastPolicy: Policy?, observed: [ObservedUnit]) -> ServicePlan {
        let ids = observed.compactMap(\.deploymentID)
        let differences = observed.map { unit in
            PlanDifference(field: unit.deploymentID.map { "deployment \($0)" } ?? "unlabelled \(unit.image)",
                           from: "absent", to: "\(unit.running) running", observed: true)
        }
        let action = lastPolicy?.sync.prune == true
            ? PlanAction(.prune, reason: "no policy declares `\(service)` any more", deploymentID: ids.first, deployments: ids)
            : PlanAction(.nothing, reason: "no policy declares `\(service)`; its last policy did not set `sync.prune: true`, so it is left running")
        return ServicePlan(service: service, status: .orphaned, reason: "no policy declares it", differences: differences, actions: [action])
    }

    static func tagged(_ repository: String, _ sha: String?) -> String? {
        sha.map { "\(repository):\(short($0))" }
    }

    static func short(_ sha: String?) -> String { sha.map(RolloutDecisions.shortSHA) ?? "(none)" }

    static func firstLine(_ text: String) -> String {
        let line = text.split(separator: "\n").first.map(String.init) ?? text
        return line.count > 160 ? String(line.prefix(157)) + "…" : line
    }
}
