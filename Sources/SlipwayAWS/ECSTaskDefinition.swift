import Foundation
import SlipwayCore

/// What Slipway registers for a service on `deploy.target: ecs`: one essential container
/// named after the service, in awsvpc mode, sized and configured from the policy.
/// Encodes to the RegisterTaskDefinition request (ECS JSON field names).
public struct ECSTaskDefinition: Codable, Sendable, Hashable {
    public struct KeyValue: Codable, Sendable, Hashable { public var name: String; public var value: String }
    public struct Secret: Codable, Sendable, Hashable { public var name: String; public var valueFrom: String }
    public struct PortMapping: Codable, Sendable, Hashable { public var containerPort: Int; public var `protocol`: String }
    public struct HealthCheck: Codable, Sendable, Hashable {
        public var command: [String]
        public var interval: Int
        public var timeout: Int
        public var retries: Int
        public var startPeriod: Int
    }
    public struct LogConfiguration: Codable, Sendable, Hashable {
        public var logDriver: String
        public var options: [String: String]
    }
    public struct Container: Codable, Sendable, Hashable {
        public var name: String
        public var image: String
        public var essential: Bool
        public var portMappings: [PortMapping]?
        public var environment: [KeyValue]?
        public var secrets: [Secret]?
        public var healthCheck: HealthCheck?
        public var logConfiguration: LogConfiguration?
    }

    public var family: String
    public var containerDefinitions: [Container]
    public var cpu: String
    public var memory: String
    public var networkMode: String
    public var requiresCompatibilities: [String]?
    public var executionRoleArn: String?
    public var taskRoleArn: String?

    /// The task definition for `image` (a full reference) under `policy`; nil for another target.
    public static func render(_ policy: Policy, image: String, region: String) -> ECSTaskDefinition? {
        guard let ecs = policy.deploy.ecs else { return nil }
        let name = policy.service
        let environment = policy.deploy.env.sorted { $0.key < $1.key }.map { KeyValue(name: $0.key, value: $0.value) }
        let secrets = ecs.secrets.sorted { $0.key < $1.key }.map { Secret(name: $0.key, valueFrom: $0.value) }
        let check = policy.deploy.healthCheck.map {
            HealthCheck(command: $0.command, interval: Int($0.interval.seconds), timeout: Int($0.timeout.seconds),
                        retries: $0.retries, startPeriod: Int($0.startPeriod.seconds))
        }
        let logs = ecs.logGroup.map {
            LogConfiguration(logDriver: "awslogs", options: ["awslogs-group": $0, "awslogs-region": region, "awslogs-stream-prefix": name])
        }
        let container = Container(name: name, image: image, essential: true,
                                  portMappings: policy.deploy.port.map { [PortMapping(containerPort: $0, protocol: "tcp")] },
                                  environment: environment.isEmpty ? nil : environment, secrets: secrets.isEmpty ? nil : secrets,
                                  healthCheck: check, logConfiguration: logs)
        return ECSTaskDefinition(family: ecs.service ?? name, containerDefinitions: [container], cpu: "\(ecs.cpu)",
                                 memory: "\(ecs.memory)", networkMode: "awsvpc",
                                 requiresCompatibilities: ecs.isFargate ? ["FARGATE"] : (ecs.launchType == .ec2 ? ["EC2"] : nil),
                                 executionRoleArn: ecs.executionRoleArn, taskRoleArn: ecs.taskRoleArn)
    }

    /// Whether `described` (DescribeTaskDefinition's `taskDefinition`) already is this
    /// definition, so no new revision is needed. Fields ECS adds (arn, revision, status,
    /// defaults like `cpu: 0` on containers) are ignored.
    public func matches(described: [String: Any]) -> Bool {
        guard let data = try? JSONEncoder().encode(self),
              let mine = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
        return Self.contains(described, mine)
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
    public static func of(_ task: [String: Any], essential: Set<String>) -> ECSTaskOutcome {
        guard (task["lastStatus"] as? String) == "STOPPED" else { return .running }
        let reason = (task["stoppedReason"] as? String) ?? (task["stopCode"] as? String) ?? "stopped"
        let stoppedAt = (task["stoppedAt"] as? Double).map { Date(timeIntervalSince1970: $0) }
            ?? (task["stoppedAt"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }
        let containers = task["containers"] as? [[String: Any]] ?? []
        for container in containers {
            guard let name = container["name"] as? String, essential.isEmpty || essential.contains(name) else { continue }
            if let code = container["exitCode"] as? Int, code != 0 {
                return .crashed(exitCode: code, container: name, reason: (container["reason"] as? String) ?? reason, stoppedAt: stoppedAt)
            }
        }
        if (task["stopCode"] as? String) == "TaskFailedToStart" { return .failedToStart(reason: reason) }
        return .stoppedCleanly
    }
}
