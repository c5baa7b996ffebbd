import SlipwayAWS

/// What the ECS runtime reads from a task definition. A revision's ARN never changes
/// content, so what was read once is kept (whether it is still ACTIVE is asked afresh where it matters).
public struct DescribedTaskDefinition: Sendable, Hashable {
    public var image: String?
    public var essential: [String]
    public var active: Bool
    /// Where the essential container's awslogs driver writes, when it logs to CloudWatch.
    public var log: Log?

    public struct Log: Sendable, Hashable {
        public var group: String
        public var prefix: String
        public var container: String
    }

    /// From DescribeTaskDefinition's `taskDefinition`.
    public init(_ definition: [String: Any]) {
        let containers = definition["containerDefinitions"] as? [[String: Any]] ?? []
        let essentials = containers.filter { ($0["essential"] as? Bool) ?? true }
        essential = essentials.compactMap { $0["name"] as? String }
        image = (essentials.first ?? containers.first)?["image"] as? String
        active = (definition["status"] as? String ?? "ACTIVE") == "ACTIVE"
        log = essentials.lazy.compactMap { container -> Log? in
            guard let config = container["logConfiguration"] as? [String: Any], config["logDriver"] as? String == "awslogs",
                  let options = config["options"] as? [String: String], let group = options["awslogs-group"],
                  let prefix = options["awslogs-stream-prefix"], let name = container["name"] as? String else { return nil }
            return Log(group: group, prefix: prefix, container: name)
        }.first
    }
}

actor TaskDefinitionCache {
    var known: [String: DescribedTaskDefinition] = [:]

    /// nil when ECS knows no task definition by that ARN.
    func describe(_ arn: String, ecs: ECSAPI) async throws -> DescribedTaskDefinition? {
        if let hit = known[arn] { return hit }
        guard let answer = try await ecs.describeTaskDefinition(arn) else { return nil }
        let described = DescribedTaskDefinition(answer)
        known[arn] = described
        return described
    }
}
