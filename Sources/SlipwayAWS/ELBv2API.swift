import Foundation

/// The Elastic Load Balancing v2 calls previews make: a target group and a host-header
/// listener rule per preview, tagged so a sweep can find them again.
public struct ELBv2API: Sendable {
    static let version = "2015-12-01"
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    public struct TargetGroup: Sendable, Hashable {
        public var arn: String
        public var name: String
    }

    public struct Rule: Sendable, Hashable {
        public var arn: String
        public var priority: String
        public var hosts: [String]
        public var targetGroups: [String]
    }

    func call(_ action: String, _ parameters: [String: String]) async throws -> String {
        try await client.query(.elbv2, action, version: Self.version, parameters: parameters)
    }

    /// The target group of that name, if there is one.
    public func targetGroup(named name: String) async throws -> TargetGroup? {
        do {
            let xml = try await call("DescribeTargetGroups", ["Names.member.1": name])
            return XMLText.members(of: "TargetGroups", in: xml).compactMap { member -> TargetGroup? in
                guard let arn = XMLText.first("TargetGroupArn", in: member) else { return nil }
                return TargetGroup(arn: arn, name: XMLText.first("TargetGroupName", in: member) ?? name)
            }.first
        } catch let error as AWSError where error.code == "TargetGroupNotFound" || error.code == "TargetGroupNotFoundException" {
            return nil
        }
    }

    public func createTargetGroup(name: String, port: Int, vpcId: String?, healthCheckPath: String,
                                  tags: [String: String]) async throws -> TargetGroup {
        var parameters = ["Name": name, "Protocol": "HTTP", "Port": "\(port)", "TargetType": "ip",
                          "HealthCheckPath": healthCheckPath, "HealthCheckProtocol": "HTTP"]
        if let vpcId { parameters["VpcId"] = vpcId }
        Self.add(tags: tags, to: &parameters)
        let xml = try await call("CreateTargetGroup", parameters)
        guard let arn = XMLText.first("TargetGroupArn", in: xml) else {
            throw AWSError(status: 200, code: "NoTargetGroup", message: "CreateTargetGroup answered without a TargetGroupArn", action: "CreateTargetGroup")
        }
        return TargetGroup(arn: arn, name: name)
    }

    public func deleteTargetGroup(_ arn: String) async throws {
        _ = try await call("DeleteTargetGroup", ["TargetGroupArn": arn])
    }

    /// Every rule of a listener (the default one included), page by page.
    public func rules(listener: String) async throws -> [Rule] {
        var out: [Rule] = []
        var marker: String?
        repeat {
            var parameters = ["ListenerArn": listener, "PageSize": "100"]
            if let marker { parameters["Marker"] = marker }
            let xml = try await call("DescribeRules", parameters)
            for member in XMLText.members(of: "Rules", in: xml) {
                guard let arn = XMLText.first("RuleArn", in: member) else { continue }
                out.append(Rule(arn: arn, priority: XMLText.first("Priority", in: member) ?? "",
                                hosts: XMLText.all("member", in: XMLText.first("Values", in: member) ?? ""),
                                targetGroups: XMLText.all("TargetGroupArn", in: member)))
            }
            marker = XMLText.first("NextMarker", in: xml).flatMap { $0.isEmpty ? nil : $0 }
        } while marker != nil
        return out
    }

    /// A rule sending requests for `host` to `targetGroup`.
    public func createRule(listener: String, priority: Int, host: String, targetGroup: String, tags: [String: String]) async throws -> String {
        var parameters = [
            "ListenerArn": listener, "Priority": "\(priority)",
            "Conditions.member.1.Field": "host-header", "Conditions.member.1.Values.member.1": host,
            "Actions.member.1.Type": "forward", "Actions.member.1.TargetGroupArn": targetGroup,
        ]
        Self.add(tags: tags, to: &parameters)
        let xml = try await call("CreateRule", parameters)
        guard let arn = XMLText.first("RuleArn", in: xml) else {
            throw AWSError(status: 200, code: "NoRule", message: "CreateRule answered without a RuleArn", action: "CreateRule")
        }
        return arn
    }

    public func deleteRule(_ arn: String) async throws {
        _ = try await call("DeleteRule", ["RuleArn": arn])
    }

    static func add(tags: [String: String], to parameters: inout [String: String]) {
        for (index, (key, value)) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
            parameters["Tags.member.\(index + 1).Key"] = key
            parameters["Tags.member.\(index + 1).Value"] = value
        }
    }
}
