import SlipwayCore
import Yams

extension PolicyParser {
    func parseECS(_ map: Fields, env: [String: String], reader: inout NodeReader) -> Policy.ECS? {
        let before = reader.diagnostics.count
        var ecs = Policy.ECS(cluster: "")
        if let n = reader.required(map, "cluster", hint: " for `deploy.target: ecs` (the cluster's name or ARN)"),
           let cluster = reader.nonEmptyString(n, at: "deploy.cluster") {
            if !Self.isECSName(cluster) && !Self.isClusterARN(cluster) {
                reader.report(n, "`deploy.cluster` `\(cluster)` is not a cluster name (letters, digits, `-`, `_`, up to 255) or arn:aws:ecs:REGION:ACCOUNT:cluster/NAME")
            }
            ecs.cluster = cluster
        }
        if let n = map["service"], let name = reader.nonEmptyString(n, at: "deploy.service") {
            if !Self.isECSName(name) {
                reader.report(n, "`deploy.service` `\(name)` is not an ECS service name (letters, digits, `-`, `_`, up to 255)")
            }
            ecs.service = name
        }
        if map["launchType"] != nil, map["capacityProvider"] != nil {
            let second = map.later("launchType", "capacityProvider")
            reader.report(map.keys[second], "`deploy.launchType` and `deploy.capacityProvider` exclude each other; keep one")
        }
        if let n = map["launchType"], let text = reader.nonEmptyString(n, at: "deploy.launchType") {
            let names = Policy.LaunchType.allCases.map(\.rawValue)
            if let type = Policy.LaunchType(rawValue: text) {
                ecs.launchType = type
            } else if let type = Policy.LaunchType(rawValue: text.uppercased()) {
                reader.report(n, "`deploy.launchType` is `\(text)`; write it in capitals: \(type.rawValue)")
            } else {
                reader.report(n, "`deploy.launchType` `\(text)` is unknown; one of \(names.joined(separator: ", "))")
            }
        }
        if let n = map["capacityProvider"], let name = reader.nonEmptyString(n, at: "deploy.capacityProvider") {
            if !Self.isECSName(name) {
                reader.report(n, "`deploy.capacityProvider` `\(name)` is not a capacity provider name (letters, digits, `-`, `_`)")
            }
            ecs.capacityProvider = name
            ecs.launchType = nil
        }
        parseSize(map, into: &ecs, reader: &reader)
        parseNetwork(map, into: &ecs, reader: &reader)
        parseRoles(map, env: env, into: &ecs, reader: &reader)
        return reader.diagnostics.count == before ? ecs : nil
    }

    private func parseSize(_ map: Fields, into ecs: inout Policy.ECS, reader: inout NodeReader) {
        let fargate = ecs.isFargate
        var cpuValid = true
        if let n = map["cpu"] {
            if let cpu = reader.int(n, at: "deploy.cpu", range: 128...(fargate ? 16384 : 10240)) {
                if fargate, FargateSizes.memory[cpu] == nil {
                    reader.report(n, "`deploy.cpu` is \(cpu); Fargate takes \(FargateSizes.cpuValues.map(String.init).joined(separator: ", "))")
                    cpuValid = false
                }
                ecs.cpu = cpu
            } else {
                cpuValid = false
            }
        }
        if let n = map["memory"], let memory = reader.int(n, at: "deploy.memory", range: 128...(fargate ? 122880 : 1_048_576)) {
            if fargate, cpuValid, let problem = FargateSizes.problem(cpu: ecs.cpu, memory: memory) {
                reader.report(n, "`deploy.memory` is \(memory); \(problem)")
            }
            ecs.memory = memory
        } else if map["memory"] == nil, fargate, cpuValid, let range = FargateSizes.memory[ecs.cpu],
                  FargateSizes.problem(cpu: ecs.cpu, memory: ecs.memory) != nil, let key = map.keys["cpu"] {
            // cpu raised without memory: the default 512 MiB no longer fits.
            reader.report(key, "`deploy.cpu` \(ecs.cpu) needs `deploy.memory` (\(range.min) to \(range.max) MiB on Fargate)")
        }
    }

    private func parseNetwork(_ map: Fields, into ecs: inout Policy.ECS, reader: inout NodeReader) {
        if let n = map["subnets"], let subnets = reader.list(n, at: "deploy.subnets", example: "[subnet-0123456789abcdef0]") {
            for (index, entry) in subnets.enumerated() where !AWSARN.isResourceID(entry.text, prefix: "subnet") {
                reader.report(entry.node, "`deploy.subnets[\(index)]` `\(entry.text)` is not a subnet id (subnet- and 8 or 17 hex digits)")
            }
            if subnets.isEmpty, case .sequence(let items) = n, items.isEmpty, ecs.isFargate {
                reader.report(n, "`deploy.subnets` is empty; Fargate tasks need at least one subnet")
            }
            ecs.subnets = subnets.map(\.text)
        }
        // No subnets at all is fine: a service that already exists keeps its network
        // configuration; creating one without them fails its rollout, saying so.
        if let n = map["securityGroups"], let groups = reader.list(n, at: "deploy.securityGroups", example: "[sg-0123456789abcdef0]") {
            for (index, entry) in groups.enumerated() where !AWSARN.isResourceID(entry.text, prefix: "sg") {
                reader.report(entry.node, "`deploy.securityGroups[\(index)]` `\(entry.text)` is not a security group id (sg- and 8 or 17 hex digits)")
            }
            ecs.securityGroups = groups.map(\.text)
        }
        if let n = map["assignPublicIp"] { ecs.assignPublicIp = reader.bool(n, at: "deploy.assignPublicIp") ?? false }
    }

    private func parseRoles(_ map: Fields, env: [String: String], into ecs: inout Policy.ECS, reader: inout NodeReader) {
        for key in ["executionRoleArn", "taskRoleArn"] {
            guard let n = map[key], let arn = reader.nonEmptyString(n, at: "deploy.\(key)") else { continue }
            if !AWSARN.isRole(arn) {
                reader.report(n, "`deploy.\(key)` `\(arn)` is not an IAM role ARN, as in arn:aws:iam::123456789012:role/NAME")
            }
            if key == "executionRoleArn" { ecs.executionRoleArn = arn } else { ecs.taskRoleArn = arn }
        }
        if let n = map["logGroup"], let group = reader.nonEmptyString(n, at: "deploy.logGroup") {
            if group.count > 512 || !group.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-/#".contains($0)) }) {
                reader.report(n, "`deploy.logGroup` `\(group)` is not a CloudWatch Logs group name (letters, digits, `.`, `_`, `-`, `/`, `#`)")
            }
            ecs.logGroup = group
            if map["executionRoleArn"] == nil, let key = map.keys["logGroup"] {
                reader.report(key, "`deploy.logGroup` needs `deploy.executionRoleArn`: the role ECS uses to write the logs")
            }
        }
        if let n = map["secrets"], let entries = reader.stringMap(n, at: "deploy.secrets", keyRule: VariableName.isValid,
                                                                   keyHint: "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)") {
            for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
                if AWSSecretARN(entry.value) == nil {
                    reader.report(entry.node, "`deploy.secrets.\(name)` `\(entry.value)` is not a Secrets Manager (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or SSM parameter (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME) ARN")
                }
                if env[name] != nil {
                    reader.report(entry.key, "`deploy.secrets.\(name)` is also set in `deploy.env`; a variable comes from one of them")
                }
                ecs.secrets[name] = entry.value
            }
            if map["executionRoleArn"] == nil, let key = map.keys["secrets"] {
                reader.report(key, "`deploy.secrets` needs `deploy.executionRoleArn`: the role ECS uses to read them")
            }
        }
    }

    static func isECSName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 255 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    static func isClusterARN(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", AWSARN.partitions.contains(String(parts[1])), parts[2] == "ecs",
              parts[5].hasPrefix("cluster/") else { return false }
        return isECSName(String(parts[5].dropFirst(8)))
    }
}
