import Foundation
import Hummingbird
import Logging
import Synchronization

/// A paging-faithful stand-in for the ECS read API, for the paging tests and the reconcile
/// benchmark (moto answers every list in one page and takes any number of names). It keeps
/// ECS's limits: DescribeServices takes at most 10 names, DescribeTasks 100 ARNs, List*
/// pages hold at most 100 (10 when maxResults is not given) with a nextToken. It counts
/// the calls per action. It does not check signatures: moto does that in the other tests.
public final class FakeECS: Sendable {
    public struct Service: Sendable {
        public var cluster: String
        public var name: String
        public var taskDefinition: String
        public var desiredCount: Int
        public var runningCount: Int
        public init(cluster: String, name: String, taskDefinition: String, desiredCount: Int, runningCount: Int) {
            self.cluster = cluster
            self.name = name
            self.taskDefinition = taskDefinition
            self.desiredCount = desiredCount
            self.runningCount = runningCount
        }
    }

    struct State {
        var services: [String: [String: Service]] = [:]
        var serviceOrder: [String: [String]] = [:]
        var images: [String: String] = [:]
        var tasks: [String: [[String: Any]]] = [:]
        var calls: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func add(_ service: Service, image: String) {
        state.withLock {
            if $0.services[service.cluster]?[service.name] == nil { $0.serviceOrder[service.cluster, default: []].append(service.name) }
            $0.services[service.cluster, default: [:]][service.name] = service
            $0.images[service.taskDefinition] = image
        }
    }

    /// `count` tasks of a service, RUNNING on its task definition.
    public func addTasks(cluster: String, service: String, count: Int) {
        state.withLock { state in
            guard let definition = state.services[cluster]?[service]?.taskDefinition else { return }
            for index in 0..<count {
                state.tasks["\(cluster)/\(service)", default: []].append([
                    "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/\(cluster)/\(service)-\(index)",
                    "taskDefinitionArn": definition, "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
                    "containers": [["name": service, "lastStatus": "RUNNING"]],
                ])
            }
        }
    }

    public var calls: [String: Int] { state.withLock { $0.calls } }
    public func resetCalls() { state.withLock { $0.calls = [:] } }

    public struct Rejected: Error { var code: String; var message: String }

    /// One call: the JSON answer, or an ECS-shaped error.
    public func answer(action: String, body: [String: Any]) throws(Rejected) -> [String: Any] {
        state.withLock { $0.calls[action, default: 0] += 1 }
        let cluster = body["cluster"] as? String ?? "default"
        switch action {
        case "DescribeServices":
            let names = body["services"] as? [String] ?? []
            guard names.count <= 10 else { throw Rejected(code: "InvalidParameterException", message: "services can have at most 10 items") }
            return state.withLock { state in
                var found: [[String: Any]] = []
                var failures: [[String: Any]] = []
                for name in names {
                    guard let service = state.services[cluster]?[name] else {
                        failures.append(["arn": "arn:aws:ecs:us-east-1:123456789012:service/\(cluster)/\(name)", "reason": "MISSING"])
                        continue
                    }
                    found.append(Self.json(service))
                }
                return ["services": found, "failures": failures]
            }
        case "ListServices":
            let names = state.withLock { $0.serviceOrder[cluster] ?? [] }
            return try Self.page(names.map { "arn:aws:ecs:us-east-1:123456789012:service/\(cluster)/\($0)" }, body: body, key: "serviceArns")
        case "ListTasks":
            let service = body["serviceName"] as? String ?? ""
            let wanted = body["desiredStatus"] as? String ?? "RUNNING"
            let arns = state.withLock { ($0.tasks["\(cluster)/\(service)"] ?? []) }
                .filter { ($0["desiredStatus"] as? String) == wanted }.compactMap { $0["taskArn"] as? String }
            return try Self.page(arns, body: body, key: "taskArns")
        case "DescribeTasks":
            let arns = Set(body["tasks"] as? [String] ?? [])
            guard arns.count <= 100 else { throw Rejected(code: "InvalidParameterException", message: "tasks can have at most 100 items") }
            let tasks = state.withLock { $0.tasks.values.flatMap { $0 } }.filter { arns.contains($0["taskArn"] as? String ?? "") }
            return ["tasks": tasks, "failures": [[String: Any]]()]
        case "DescribeTaskDefinition":
            let arn = body["taskDefinition"] as? String ?? ""
            guard let image = state.withLock({ $0.images[arn] }) else {
                throw Rejected(code: "ClientException", message: "Unable to describe task definition.")
            }
            return ["taskDefinition": ["taskDefinitionArn": arn, "status": "ACTIVE",
                                       "containerDefinitions": [["name": "app", "image": image, "essential": true]]]]
        default:
            throw Rejected(code: "InvalidAction", message: "\(action) is not served by the fake")
        }
    }

    static func json(_ service: Service) -> [String: Any] {
        ["serviceName": service.name, "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/\(service.cluster)/\(service.name)",
         "status": "ACTIVE", "taskDefinition": service.taskDefinition, "desiredCount": service.desiredCount,
         "runningCount": service.runningCount, "pendingCount": 0,
         "deployments": [["id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": service.taskDefinition, "rolloutState": "COMPLETED",
                          "desiredCount": service.desiredCount, "runningCount": service.runningCount, "failedTasks": 0]]]
    }

    static func page(_ all: [String], body: [String: Any], key: String) throws(Rejected) -> [String: Any] {
        let size = body["maxResults"] as? Int ?? 10
        guard (1...100).contains(size) else { throw Rejected(code: "InvalidParameterException", message: "maxResults must be 1 to 100") }
        let start = (body["nextToken"] as? String).flatMap(Int.init) ?? 0
        let end = min(all.count, start + size)
        var answer: [String: Any] = [key: start < end ? Array(all[start..<end]) : []]
        if end < all.count { answer["nextToken"] = "\(end)" }
        return answer
    }

    /// Serves the API on 127.0.0.1:`port` until cancelled.
    public func serve(port: Int) async throws {
        let router = Router()
        router.get("/ready") { _, _ in "ok" }
        // For benchmarks in another process: the calls so far, and a fresh count.
        router.get("/calls") { _, _ in Self.response(.ok, self.calls) }
        router.get("/calls/reset") { _, _ in
            self.resetCalls()
            return "ok"
        }
        router.post("/") { request, context -> Response in
            let target = request.headers[.init("X-Amz-Target")!] ?? ""
            let action = String(target.split(separator: ".").last ?? "")
            let buffer = try await request.body.collect(upTo: 16 << 20)
            let body = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
            do throws(Rejected) {
                let answer = try self.answer(action: action, body: body)
                return Self.response(.ok, answer)
            } catch {
                return Self.response(.badRequest, ["__type": error.code, "message": error.message])
            }
        }
        var logger = Logger(label: "fake-ecs")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        try await app.runService()
    }

    static func response(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/x-amz-json-1.1"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
