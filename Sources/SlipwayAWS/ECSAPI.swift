import Foundation

/// The ECS calls Slipway makes, with ECS's batch limits and paging applied:
/// DescribeServices takes 10 names, DescribeTasks 100 ARNs, List* pages of 100.
public struct ECSAPI: Sendable {
    public static let describeServicesBatch = 10
    public static let describeTasksBatch = 100
    public static let listPage = 100

    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    public var region: String { client.region }

    /// One deployment of a service, as DescribeServices reports it.
    public struct Deployment: Sendable, Hashable {
        public init(id: String, status: String, taskDefinition: String, rolloutState: String?, rolloutStateReason: String?,
                    desiredCount: Int, runningCount: Int, failedTasks: Int) {
            self.id = id
            self.status = status
            self.taskDefinition = taskDefinition
            self.rolloutState = rolloutState
            self.rolloutStateReason = rolloutStateReason
            self.desiredCount = desiredCount
            self.runningCount = runningCount
            self.failedTasks = failedTasks
        }

        public var id: String
        public var status: String
        public var taskDefinition: String
        public var rolloutState: String?
        public var rolloutStateReason: String?
        public var desiredCount: Int
        public var runningCount: Int
        public var failedTasks: Int
    }

    /// A service as DescribeServices reports it.
    public struct Service: Sendable, Hashable {
        public init(name: String, arn: String, status: String, taskDefinition: String, desiredCount: Int, runningCount: Int,
                    pendingCount: Int, deployments: [Deployment]) {
            self.name = name
            self.arn = arn
            self.status = status
            self.taskDefinition = taskDefinition
            self.desiredCount = desiredCount
            self.runningCount = runningCount
            self.pendingCount = pendingCount
            self.deployments = deployments
        }

        public var name: String
        public var arn: String
        public var status: String
        public var taskDefinition: String
        public var desiredCount: Int
        public var runningCount: Int
        public var pendingCount: Int
        public var deployments: [Deployment]

        public var isActive: Bool { status == "ACTIVE" }
    }

    func json(_ action: String, _ body: [String: Any]) async throws -> [String: Any] {
        let data = try await client.call(.ecs, action, body: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    // MARK: Task definitions

    /// Registers `definition`; returns the new revision's ARN.
    public func registerTaskDefinition(_ definition: ECSTaskDefinition) async throws -> String {
        let answer = try await json("RegisterTaskDefinition", definition.json)
        guard let arn = (answer["taskDefinition"] as? [String: Any])?["taskDefinitionArn"] as? String else {
            throw AWSError(status: 200, code: "UnexpectedAnswer", message: "no taskDefinitionArn in the answer", action: "RegisterTaskDefinition")
        }
        return arn
    }

    /// The task definition (`family`, `family:revision` or ARN), or nil when ECS knows none by that name.
    public func describeTaskDefinition(_ name: String) async throws -> [String: Any]? {
        do {
            return try await json("DescribeTaskDefinition", ["taskDefinition": name])["taskDefinition"] as? [String: Any]
        } catch let error as AWSError where error.code == "ClientException" && error.message.localizedCaseInsensitiveContains("unable to describe") {
            return nil
        }
    }

    /// The ACTIVE task definition ARNs of a family, page by page.
    public func listTaskDefinitions(family: String) async throws -> [String] {
        try await pages("ListTaskDefinitions", ["familyPrefix": family, "status": "ACTIVE"], key: "taskDefinitionArns")
            .filter { ECSAPI.family(ofARN: $0) == family }
    }

    /// `arn:…:task-definition/web-pr-7:3` → `web-pr-7` (a prefix lookup also finds `web-pr-70`).
    public static func family(ofARN arn: String) -> String? {
        guard let slash = arn.lastIndex(of: "/") else { return nil }
        let tail = arn[arn.index(after: slash)...]
        return tail.split(separator: ":").first.map(String.init)
    }

    public func deregisterTaskDefinition(_ arn: String) async throws {
        _ = try await json("DeregisterTaskDefinition", ["taskDefinition": arn])
    }

    // MARK: Services

    public func createService(_ request: [String: Any]) async throws -> Service? {
        Self.service(try await json("CreateService", request)["service"])
    }

    /// Points the service at `taskDefinition` and/or sets its desired count.
    public func updateService(cluster: String, service: String, taskDefinition: String?, desiredCount: Int?,
                              forceNewDeployment: Bool = false) async throws -> Service? {
        var body: [String: Any] = ["cluster": cluster, "service": service]
        if let taskDefinition { body["taskDefinition"] = taskDefinition }
        if let desiredCount { body["desiredCount"] = desiredCount }
        if forceNewDeployment { body["forceNewDeployment"] = true }
        return Self.service(try await json("UpdateService", body)["service"])
    }

    public func deleteService(cluster: String, service: String, force: Bool) async throws {
        _ = try await json("DeleteService", ["cluster": cluster, "service": service, "force": force])
    }

    /// The services named (any number: asked 10 at a time). Names ECS does not know are left out.
    public func describeServices(cluster: String, names: [String]) async throws -> [Service] {
        var out: [Service] = []
        for start in stride(from: 0, to: names.count, by: Self.describeServicesBatch) {
            let batch = Array(names[start..<min(names.count, start + Self.describeServicesBatch)])
            out += Self.services(from: try await json("DescribeServices", ["cluster": cluster, "services": batch]))
        }
        return out
    }

    /// Every service ARN of the cluster, page by page.
    public func listServices(cluster: String) async throws -> [String] {
        try await pages("ListServices", ["cluster": cluster], key: "serviceArns")
    }

    /// Task ARNs of a service with the given desired status (RUNNING or STOPPED), page by page.
    public func listTasks(cluster: String, service: String, desiredStatus: String) async throws -> [String] {
        try await pages("ListTasks", ["cluster": cluster, "serviceName": service, "desiredStatus": desiredStatus], key: "taskArns")
    }

    /// The tasks (any number: asked 100 at a time), as DescribeTasks' `tasks` entries.
    public func describeTasks(cluster: String, arns: [String]) async throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        for start in stride(from: 0, to: arns.count, by: Self.describeTasksBatch) {
            let batch = Array(arns[start..<min(arns.count, start + Self.describeTasksBatch)])
            out += try await json("DescribeTasks", ["cluster": cluster, "tasks": batch])["tasks"] as? [[String: Any]] ?? []
        }
        return out
    }

    public func stopTask(cluster: String, task: String, reason: String) async throws {
        _ = try await json("StopTask", ["cluster": cluster, "task": task, "reason": reason])
    }

    public func createCluster(_ name: String) async throws {
        _ = try await json("CreateCluster", ["clusterName": name])
    }

    func pages(_ action: String, _ body: [String: Any], key: String) async throws -> [String] {
        var out: [String] = []
        var token: String?
        repeat {
            var request = body
            request["maxResults"] = Self.listPage
            if let token { request["nextToken"] = token }
            let answer = try await json(action, request)
            out += answer[key] as? [String] ?? []
            token = answer["nextToken"] as? String
        } while token != nil
        return out
    }

    /// DescribeServices' `services`, read.
    public static func services(from answer: [String: Any]) -> [Service] {
        (answer["services"] as? [Any] ?? []).compactMap(service)
    }

    static func service(_ value: Any?) -> Service? {
        guard let map = value as? [String: Any], let name = map["serviceName"] as? String else { return nil }
        let deployments = (map["deployments"] as? [[String: Any]] ?? []).map { d in
            Deployment(id: d["id"] as? String ?? "", status: d["status"] as? String ?? "", taskDefinition: d["taskDefinition"] as? String ?? "",
                       rolloutState: d["rolloutState"] as? String, rolloutStateReason: d["rolloutStateReason"] as? String,
                       desiredCount: d["desiredCount"] as? Int ?? 0, runningCount: d["runningCount"] as? Int ?? 0,
                       failedTasks: d["failedTasks"] as? Int ?? 0)
        }
        return Service(name: name, arn: map["serviceArn"] as? String ?? "", status: map["status"] as? String ?? "",
                       taskDefinition: map["taskDefinition"] as? String ?? "", desiredCount: map["desiredCount"] as? Int ?? 0,
                       runningCount: map["runningCount"] as? Int ?? 0, pendingCount: map["pendingCount"] as? Int ?? 0,
                       deployments: deployments)
    }
}
