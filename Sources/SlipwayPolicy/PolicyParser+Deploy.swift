import SlipwayCore
import Yams

extension PolicyParser {
    static let commonDeployKeys = ["target", "count", "port", "env", "healthCheck"]
    static let dockerDeployKeys = ["network"]
    static let ecsDeployKeys = ["cluster", "service", "launchType", "capacityProvider", "cpu", "memory", "secrets",
                                "executionRoleArn", "taskRoleArn", "subnets", "securityGroups", "assignPublicIp", "logGroup"]
    static var deployKeys: [String] { commonDeployKeys + dockerDeployKeys + ecsDeployKeys }
    static let healthCheckKeys = ["command", "interval", "timeout", "retries", "startPeriod"]
    static let supportedTargets = Policy.Target.allCases

    func parseDeploy(_ node: Node, holder: Node?, reader: inout NodeReader) -> Policy.Deploy {
        var deploy = Policy.Deploy()
        // The target decides which keys belong: read it before the rest.
        var target: Policy.Target? = .docker
        if case .mapping(let raw) = node, let n = raw["target"] {
            target = parseTarget(n, reader: &reader)
        }
        let allowed: [String]
        var elsewhere: [String: String] = [:]
        switch target {
        case .docker:
            allowed = Self.commonDeployKeys + Self.dockerDeployKeys
            for key in Self.ecsDeployKeys { elsewhere[key] = "applies to `deploy.target: ecs`; this service deploys to docker" }
        case .ecs:
            allowed = Self.commonDeployKeys + Self.ecsDeployKeys
            for key in Self.dockerDeployKeys { elsewhere[key] = "applies to `deploy.target: docker`; this service deploys to ecs" }
        case nil:
            allowed = Self.deployKeys   // the target is wrong already: say nothing more about keys
        }
        guard let map = reader.mapping(node, at: "deploy", holder: holder, allowed: allowed, elsewhere: elsewhere) else {
            return deploy
        }
        deploy.target = target ?? .docker
        if let n = map["count"] {
            let range = deploy.target == .ecs ? 0...1000 : 1...100
            deploy.count = reader.int(n, at: "deploy.count", range: range) ?? deploy.count
        }
        if let n = map["port"] { deploy.port = reader.int(n, at: "deploy.port", range: 1...65535) }
        if let n = map["env"] {
            deploy.env = reader.variables(n, at: "deploy.env", what: "an environment variable") ?? [:]
        }
        if let n = map["healthCheck"] {
            deploy.healthCheck = parseHealthCheck(n, holder: map.keys["healthCheck"], reader: &reader)
        }
        if let n = map["network"], let network = reader.nonEmptyString(n, at: "deploy.network") {
            if network.contains(where: { $0.isWhitespace || $0 == "/" }) {
                reader.report(n, "`deploy.network` `\(network)` is not a Docker network name")
            }
            deploy.network = network
        }
        if target == .ecs { deploy.ecs = parseECS(map, env: deploy.env, reader: &reader) }
        return deploy
    }

    private func parseTarget(_ node: Node, reader: inout NodeReader) -> Policy.Target? {
        guard let text = reader.nonEmptyString(node, at: "deploy.target") else { return nil }
        if let target = Policy.Target(rawValue: text) { return target }
        let supported = Self.supportedTargets.map(\.rawValue).joined(separator: ", ")
        let guess = EditDistance.suggestion(for: text, among: Self.supportedTargets.map(\.rawValue))
        reader.report(node, "`deploy.target` `\(text)` is unknown; \(guess.map { "did you mean `\($0)`? " } ?? "")supported: \(supported)")
        return nil
    }

    private func parseHealthCheck(_ node: Node, holder: Node?, reader: inout NodeReader) -> Policy.HealthCheck? {
        guard let map = reader.mapping(node, at: "deploy.healthCheck", holder: holder, allowed: Self.healthCheckKeys) else { return nil }
        let before = reader.diagnostics.count
        var command: [String] = []
        if let n = reader.required(map, "command", hint: ", as in `curl -fsS http://localhost:8080/health || exit 1`") {
            if case .sequence(let items) = n {
                let list = reader.strings(n, at: "deploy.healthCheck.command", example: "[\"CMD\", \"/healthcheck\"]") ?? []
                if list.isEmpty, reader.diagnostics.count == before {
                    reader.report(n, "`deploy.healthCheck.command` is an empty list")
                } else if let first = list.first, first != "CMD", first != "CMD-SHELL" {
                    reader.report(items.first, "`deploy.healthCheck.command[0]` is `\(first)`; a list starts with CMD (run a program) or CMD-SHELL (run a shell line)")
                } else if list.count < 2, reader.diagnostics.count == before {
                    reader.report(n, "`deploy.healthCheck.command` names no program after `\(list[0])`")
                }
                command = list
            } else if let line = reader.nonEmptyString(n, at: "deploy.healthCheck.command") {
                command = ["CMD-SHELL", line]
            }
        }
        var check = Policy.HealthCheck(command: command)
        if let n = map["interval"] {
            check.interval = reader.duration(n, at: "deploy.healthCheck.interval", range: .seconds(5)...TimeSpan.seconds(300)) ?? check.interval
        }
        if let n = map["timeout"], let timeout = reader.duration(n, at: "deploy.healthCheck.timeout", range: .seconds(2)...TimeSpan.seconds(60)) {
            if timeout >= check.interval {
                reader.report(n, "`deploy.healthCheck.timeout` is \(timeout); it must be shorter than the interval (\(check.interval))")
            }
            check.timeout = timeout
        }
        if let n = map["retries"] { check.retries = reader.int(n, at: "deploy.healthCheck.retries", range: 1...10) ?? check.retries }
        if let n = map["startPeriod"] {
            check.startPeriod = reader.duration(n, at: "deploy.healthCheck.startPeriod", range: .seconds(0)...TimeSpan.seconds(300)) ?? check.startPeriod
        }
        return reader.diagnostics.count == before ? check : nil
    }
}
