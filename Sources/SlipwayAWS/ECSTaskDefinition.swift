import Foundation
import SlipwayCore

/// What Slipway registers for a service on `deploy.target: ecs`: `manifests/ecs/task-definition.json`
/// filled from the policy (one essential container named after the service, in awsvpc
/// mode, sized and configured from the policy). The document is the RegisterTaskDefinition request.
public struct ECSTaskDefinition: Sendable, Hashable {
    public var document: JSONValue

    /// The request body as JSONSerialization objects.
    public var json: [String: Any] { document.any as? [String: Any] ?? [:] }

    public subscript(key: String) -> JSONValue? {
        get { document[key] }
        set {
            guard case .object(var map) = document else { return }
            map[key] = newValue
            document = .object(map)
        }
    }

    public var family: String {
        get { if case .string(let value)? = self["family"] { value } else { "" } }
        set { self["family"] = .string(newValue) }
    }

    /// The essential container's image.
    public var image: String? {
        get {
            guard case .array(let containers)? = self["containerDefinitions"], case .string(let image)? = containers.first?["image"] else { return nil }
            return image
        }
        set {
            guard case .array(var containers)? = self["containerDefinitions"], case .object(var first)? = containers.first else { return }
            first["image"] = newValue.map(JSONValue.string)
            containers[0] = .object(first)
            self["containerDefinitions"] = .array(containers)
        }
    }

    /// The task definition for `image` (a full reference) under `policy`; nil for another target.
    public static func render(_ policy: Policy, image: String, region: String) -> ECSTaskDefinition? {
        guard let ecs = policy.deploy.ecs else { return nil }
        let name = policy.service
        var values: [String: JSONValue] = [
            "family": .string(ecs.service ?? name), "container": .string(name), "image": .string(image),
            "cpu": .string("\(ecs.cpu)"), "memory": .string("\(ecs.memory)"),
        ]
        if ecs.isFargate { values["requiresCompatibilities"] = .array([.string("FARGATE")]) }
        else if ecs.launchType == .ec2 { values["requiresCompatibilities"] = .array([.string("EC2")]) }
        values["executionRoleArn"] = ecs.executionRoleArn.map(JSONValue.string)
        values["taskRoleArn"] = ecs.taskRoleArn.map(JSONValue.string)
        if let port = policy.deploy.port {
            values["portMappings"] = .array([.object(["containerPort": .number(Double(port)), "protocol": .string("tcp")])])
        }
        let environment = policy.deploy.env.sorted { $0.key < $1.key }
        if !environment.isEmpty {
            values["environment"] = .array(environment.map { .object(["name": .string($0.key), "value": .string($0.value)]) })
        }
        let secrets = ecs.secrets.sorted { $0.key < $1.key }
        if !secrets.isEmpty {
            values["secrets"] = .array(secrets.map { .object(["name": .string($0.key), "valueFrom": .string($0.value)]) })
        }
        if let check = policy.deploy.healthCheck {
            values["healthCheck"] = .object([
                "command": .array(check.command.map(JSONValue.string)), "interval": .number(check.interval.seconds.rounded(.down)),
                "timeout": .number(check.timeout.seconds.rounded(.down)), "retries": .number(Double(check.retries)),
                "startPeriod": .number(check.startPeriod.seconds.rounded(.down)),
            ])
        }
        if let group = ecs.logGroup {
            values["logConfiguration"] = .object(["logDriver": .string("awslogs"), "options": .object([
                "awslogs-group": .string(group), "awslogs-region": .string(region), "awslogs-stream-prefix": .string(name),
            ])])
        }
        do {
            return ECSTaskDefinition(document: try ECSTemplates.taskDefinition.render(values, required: ["family", "container", "image"]))
        } catch {
            preconditionFailure("manifests/ecs/task-definition.json: \(error)")
        }
    }

    /// Whether `described` (DescribeTaskDefinition's `taskDefinition`) already is this
    /// definition, so no new revision is needed. Fields ECS adds (arn, revision, status,
    /// defaults like `cpu: 0` on containers) are ignored.
    public func matches(described: [String: Any]) -> Bool {
        // Through JSONSerialization, so both sides hold numbers and booleans the same way.
        func normalized(_ object: Any) -> Any? {
            (try? JSONSerialization.data(withJSONObject: object)).flatMap { try? JSONSerialization.jsonObject(with: $0) }
        }
        guard let mine = normalized(json), let theirs = normalized(described) else { return false }
        return Self.same(theirs, mine, template: ECSTemplates.taskDefinition.root)
    }

    /// Whether a pinned revision (a rollback's, as DescribeTaskDefinition answers it) can run
    /// as it is: it must be ACTIVE, and either come from another family (a revision made
    /// elsewhere, put back exactly) or still be what this definition renders.
    public func canReuse(pinned described: [String: Any]) -> Bool {
        guard (described["status"] as? String ?? "ACTIVE") == "ACTIVE" else { return false }
        return (described["family"] as? String) != family || matches(described: described)
    }

    /// Along the template's keys: `described` holds every value `mine` holds (ECS may add
    /// keys inside them, like `hostPort`), and nothing where `mine` has nothing, so a setting
    /// removed from the policy counts as a difference. Keys outside the template (arn,
    /// revision, status, `cpu: 0` on containers) are ECS's own and ignored.
    static func same(_ described: Any?, _ mine: Any?, template: JSONValue) -> Bool {
        switch template {
        case .object(let keys):
            guard let mine = mine as? [String: Any] else { return isEmpty(described) }
            let theirs = described as? [String: Any] ?? [:]
            return keys.allSatisfy { key, inner in
                mine[key].map { same(theirs[key], $0, template: inner) } ?? isEmpty(theirs[key])
            }
        case .array(let elements) where elements.count == 1:
            guard let mine = mine as? [Any] else { return isEmpty(described) }
            guard let theirs = described as? [Any], theirs.count == mine.count else { return false }
            return zip(theirs, mine).allSatisfy { same($0, $1, template: elements[0]) }
        default:
            guard let mine else { return isEmpty(described) }
            return contains(described, mine)
        }
    }

    static func isEmpty(_ value: Any?) -> Bool {
        guard let value, !(value is NSNull) else { return true }
        return (value as? [Any])?.isEmpty == true || (value as? [String: Any])?.isEmpty == true
    }

    /// Every key of `subset` is in `object` with an equal value (recursively; arrays element-wise).
    static func contains(_ object: Any?, _ subset: Any) -> Bool {
        switch subset {
        case let map as [String: Any]:
            guard let other = object as? [String: Any] else { return false }
            return map.allSatisfy { key, value in contains(other[key], value) }
        case let list as [Any]:
            guard let other = object as? [Any], other.count == list.count else { return false }
            return zip(other, list).allSatisfy { contains($0, $1) }
        default:
            return "\(object.map { "\($0)" } ?? "nil")" == "\(subset)"
        }
    }
}

/// The templates of `manifests/ecs`, compiled in.
public enum ECSTemplates {
    public static let taskDefinition = load("task-definition.json")
    public static let service = load("service.json")

    static func load(_ file: String) -> JSONTemplate {
        guard let text = EmbeddedManifests.all.first(where: { $0.file == file })?.text else {
            preconditionFailure("manifests/ecs/\(file) was not embedded")
        }
        do { return try JSONTemplate(text) } catch { preconditionFailure("manifests/ecs/\(file): \(error)") }
    }

    /// The CreateService request for a service Slipway creates: awsvpc networking from the
    /// policy, ECS's circuit breaker on without its own rollback, so a failed rollout comes
    /// back to Slipway (which rolls back and says why) instead of being undone silently.
    public static func createService(_ policy: Policy, taskDefinition: String, count: Int) -> [String: Any]? {
        guard let ecs = policy.deploy.ecs else { return nil }
        var values: [String: JSONValue] = [
            "cluster": .string(ecs.cluster), "serviceName": .string(ecs.service ?? policy.service),
            "taskDefinition": .string(taskDefinition), "desiredCount": .number(Double(count)), "service": .string(policy.service),
            "subnets": .array(ecs.subnets.map(JSONValue.string)), "securityGroups": .array(ecs.securityGroups.map(JSONValue.string)),
            "assignPublicIp": .string(ecs.assignPublicIp ? "ENABLED" : "DISABLED"),
        ]
        if let provider = ecs.capacityProvider {
            values["capacityProviderStrategy"] = .array([.object(["capacityProvider": .string(provider), "weight": .number(1)])])
        } else if let launchType = ecs.launchType {
            values["launchType"] = .string(launchType.rawValue)
        }
        do {
            return try service.render(values, required: ["cluster", "serviceName", "taskDefinition", "desiredCount"]).any as? [String: Any]
        } catch {
            preconditionFailure("manifests/ecs/service.json: \(error)")
        }
    }
}

/// A task of the new revision that stopped, as the crash watch sees it.
public enum ECSTaskOutcome: Sendable, Hashable {
    case running
    /// An essential container exited non-zero.
    case crashed(exitCode: Int, container: String, reason: String, stoppedAt: Date?)
    /// The task never ran its container (image pull, resources, …).
    case failedToStart(reason: String)
    /// Stopped without a failure (scaled in, replaced, exit 0).
    case stoppedCleanly

    /// Reads one entry of DescribeTasks' `tasks`. `essential` names the essential containers.
    /// Stops that someone else asked for: the scheduler replacing or scaling in, a person,
    /// Spot or a host going away. Their exit codes (143, 137) say nothing about the revision.
    static let stoppedByOthers: Set<String> = ["ServiceSchedulerInitiated", "UserInitiated", "SpotInterruption", "TerminationNotice"]

    public static func of(_ task: [String: Any], essential: Set<String>) -> ECSTaskOutcome {
        guard (task["lastStatus"] as? String) == "STOPPED" else { return .running }
        if let code = task["stopCode"] as? String, stoppedByOthers.contains(code) { return .stoppedCleanly }
        let reason = (task["stoppedReason"] as? String) ?? (task["stopCode"] as? String) ?? "stopped"
        let stoppedAt = (task["stoppedAt"] as? Double).map { Date(timeIntervalSince1970: $0) }
            ?? (task["stoppedAt"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }
        let containers = task["containers"] as? [[String: Any]] ?? []
        for container in containers {
            guard let name = container["name"] as? String, essential.isEmpty || essential.contains(name) else { continue }
            if let code = container["exitCode"] as? Int, code != 0 {
                // The container's own reason (OutOfMemoryError, …) and the task's stoppedReason, both.
                let own = (container["reason"] as? String).flatMap { $0.isEmpty || $0 == reason ? nil : $0 }
                return .crashed(exitCode: code, container: name, reason: own.map { "\($0); \(reason)" } ?? reason, stoppedAt: stoppedAt)
            }
        }
        if (task["stopCode"] as? String) == "TaskFailedToStart" { return .failedToStart(reason: reason) }
        return .stoppedCleanly
    }
}
