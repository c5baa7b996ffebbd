import Foundation

/// Where a service stands against its policy; the raw values are the `slipway plan` contract.
public enum PlanStatus: String, Sendable, Hashable, Codable {
    case inSync = "in-sync"
    case needsBuild = "needs-build"
    case needsRollout = "needs-rollout"
    case drifted
    case orphaned
    case blocked
}

/// One field that differs. `observed` differences were changed outside Slipway.
public struct PlanDifference: Sendable, Hashable, Codable, CustomStringConvertible {
    public var field: String
    public var from: String?
    public var to: String?
    public var observed: Bool

    public init(field: String, from: String?, to: String?, observed: Bool = false) {
        self.field = field
        self.from = from
        self.to = to
        self.observed = observed
    }

    public var description: String {
        let change = "\(field) \(from ?? "(none)") → \(to ?? "(none)")"
        return observed ? "changed outside Slipway: \(change)" : change
    }
}

/// What the reconciler does about a service.
public struct PlanAction: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Build the commit and roll it out.
        case build
        /// Roll out an image that exists already.
        case rollout
        /// Put back the live revision where a failed one still runs.
        case rollback
        /// Something is under way; look again later.
        case wait
        /// Roll the live revision out again over what was changed by hand.
        case selfHeal = "self-heal"
        /// Remove revisions no policy declares.
        case prune
        case nothing
    }

    public var kind: Kind
    public var reason: String
    public var sha: String?
    public var image: String?
    /// rollback and self-heal: the deployment put back; prune: the first of `deployments`.
    public var deploymentID: Int64?
    public var deployments: [Int64]?

    public init(_ kind: Kind, reason: String, sha: String? = nil, image: String? = nil,
                deploymentID: Int64? = nil, deployments: [Int64]? = nil) {
        self.kind = kind
        self.reason = reason
        self.sha = sha
        self.image = image
        self.deploymentID = deploymentID
        self.deployments = deployments
    }
}

/// What happens to one pull request's preview: `create` (open, nothing live yet),
/// `update` (a newer head than what runs), `tear_down` (and why).
public struct PreviewPlanAction: Sendable, Hashable, Codable {
    /// The actions for a service's previews: open ones not live yet or behind their head,
    /// and the teardowns the sweep decided.
    public static func actions(previews: [PreviewStatus], teardowns: [PreviewSweep.Closure]) -> [PreviewPlanAction] {
        let leaving = Dictionary(teardowns.compactMap { closure -> (Int, String)? in
            guard case .pullRequest(let number) = closure.target.environment else { return nil }
            return (number, closure.reason)
        }, uniquingKeysWith: { a, _ in a })
        var out: [PreviewPlanAction] = []
        for preview in previews where preview.state != .tornDown && leaving[preview.number] == nil {
            let head = preview.headSHA.map { String($0.prefix(12)) } ?? "?"
            if preview.liveSHA == nil {
                out.append(.init(number: preview.number, action: .create,
                                 reason: "pull request #\(preview.number) at \(head) has no live preview yet (\(preview.state.rawValue))"))
            } else if preview.liveSHA != preview.headSHA {
                out.append(.init(number: preview.number, action: .update,
                                 reason: "pull request #\(preview.number) moved to \(head); the preview runs \(preview.liveSHA!.prefix(12)) (\(preview.state.rawValue))"))
            }
        }
        out += leaving.sorted { $0.key < $1.key }.map { .init(number: $0.key, action: .tearDown, reason: $0.value) }
        return out
    }

    public enum Kind: String, Sendable, Hashable, Codable {
        case create
        case update
        case tearDown = "tear_down"
    }
    public var number: Int
    public var action: Kind
    public var reason: String
    public init(number: Int, action: Kind, reason: String) {
        self.number = number
        self.action = action
        self.reason = reason
    }
}

/// The answer of `plan` for one service.
public struct ServicePlan: Sendable, Hashable, Codable {
    public var service: String
    public var status: PlanStatus
    /// Why it is blocked, or what it waits for.
    public var reason: String?
    public var desiredSHA: String?
    public var liveSHA: String?
    public var liveDeployment: Int64?
    public var differences: [PlanDifference]
    public var actions: [PlanAction]
    /// What happens to its pull requests' previews; absent when nothing does.
    public var previews: [PreviewPlanAction]?

    public init(service: String, status: PlanStatus, reason: String? = nil, desiredSHA: String? = nil, liveSHA: String? = nil,
                liveDeployment: Int64? = nil, differences: [PlanDifference] = [], actions: [PlanAction]) {
        self.service = service
        self.status = status
        self.reason = reason
        self.desiredSHA = desiredSHA
        self.liveSHA = liveSHA
        self.liveDeployment = liveDeployment
        self.differences = differences
        self.actions = actions
    }
}

extension ServicePlan {
    /// Whether asking the registry for the desired commit's image could change this plan:
    /// it decides between a build and a rollout, unless something is under way.
    public var dependsOnRegistry: Bool {
        (status == .needsBuild || status == .needsRollout) && actions.first?.kind != .wait && desiredSHA != nil
    }
}

/// What runs of one deployment (or of something unlabelled) in the runtime.
public struct ObservedUnit: Sendable, Hashable {
    public var deploymentID: Int64?
    public var sha: String?
    public var image: String
    /// Instances running now.
    public var running: Int
    /// Settings the runtime reports, keyed like `SpecFields` (`deploy.count` is ECS's desiredCount).
    public var fields: [String: String]
    /// What the runtime calls the revision (ECS: the task definition ARN).
    public var ref: String?

    public init(deploymentID: Int64?, sha: String?, image: String, running: Int, fields: [String: String] = [:], ref: String? = nil) {
        self.ref = ref
        self.deploymentID = deploymentID
        self.sha = sha
        self.image = image
        self.running = running
        self.fields = fields
    }
}

/// Whether the registry holds the image of a commit.
public enum ImagePresence: Sendable, Hashable {
    case present(digest: String)
    case missing
    /// Not asked, or the registry did not answer.
    case unknown
}

/// Everything `Reconciler.plan` looks at for one declared service.
public struct ReconcileInput: Sendable {
    public var policy: Policy
    /// The service's deployments, newest first, each with the policy it was made from.
    public var history: [DeploymentRecord]
    public var liveID: Int64?
    /// nil: the runtime was not observed (drift is then not judged).
    public var observed: [ObservedUnit]?
    /// By commit SHA.
    public var registry: [String: ImagePresence]

    public init(policy: Policy, history: [DeploymentRecord], liveID: Int64?, observed: [ObservedUnit]?,
                registry: [String: ImagePresence] = [:]) {
        self.policy = policy
        self.history = history
        self.liveID = liveID
        self.observed = observed
        self.registry = registry
    }
}

// `slipway plan --json` writes every key, `null` where there is no value, as the other
// JSON contracts do (synthesized encoding would leave such keys out).
extension ServicePlan {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(service, forKey: .service)
        try c.encode(status, forKey: .status)
        try c.encode(reason, forKey: .reason)
        try c.encode(desiredSHA, forKey: .desiredSHA)
        try c.encode(liveSHA, forKey: .liveSHA)
        try c.encode(liveDeployment, forKey: .liveDeployment)
        try c.encode(differences, forKey: .differences)
        try c.encode(actions, forKey: .actions)
    }
}

extension PlanDifference {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(field, forKey: .field)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(observed, forKey: .observed)
    }
}

extension PlanAction {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(reason, forKey: .reason)
        try c.encode(sha, forKey: .sha)
        try c.encode(image, forKey: .image)
        try c.encode(deploymentID, forKey: .deploymentID)
        try c.encode(deployments, forKey: .deployments)
    }
}
