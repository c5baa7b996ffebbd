/// A policy flattened into `field → value` pairs, so two versions compare field by
/// field (`deploy.memory 512 → 1024`). The deploy fields are what a rollout applies;
/// the build fields are what shapes the image built from a commit.
public enum SpecFields {
    public static func deploy(_ policy: Policy) -> [String: String] {
        let d = policy.deploy
        var out: [String: String] = ["image": policy.image, "deploy.target": d.target.rawValue, "deploy.count": "\(d.count)"]
        out["deploy.port"] = d.port.map(String.init)
        out["deploy.network"] = d.network
        for (name, value) in d.env { out["deploy.env.\(name)"] = value }
        if let check = d.healthCheck {
            out["deploy.healthCheck.command"] = check.command.joined(separator: " ")
            out["deploy.healthCheck.interval"] = check.interval.description
            out["deploy.healthCheck.timeout"] = check.timeout.description
            out["deploy.healthCheck.retries"] = "\(check.retries)"
            out["deploy.healthCheck.startPeriod"] = check.startPeriod.description
        }
        if let ecs = d.ecs {
            out["deploy.cluster"] = ecs.cluster
            out["deploy.service"] = ecs.service ?? policy.service
            out["deploy.launchType"] = ecs.launchType?.rawValue
            out["deploy.capacityProvider"] = ecs.capacityProvider
            out["deploy.cpu"] = "\(ecs.cpu)"
            out["deploy.memory"] = "\(ecs.memory)"
            for (name, arn) in ecs.secrets { out["deploy.secrets.\(name)"] = arn }
            out["deploy.executionRoleArn"] = ecs.executionRoleArn
            out["deploy.taskRoleArn"] = ecs.taskRoleArn
            out["deploy.subnets"] = ecs.subnets.isEmpty ? nil : ecs.subnets.joined(separator: ",")
            out["deploy.securityGroups"] = ecs.securityGroups.isEmpty ? nil : ecs.securityGroups.joined(separator: ",")
            out["deploy.assignPublicIp"] = "\(ecs.assignPublicIp)"
            out["deploy.logGroup"] = ecs.logGroup
        }
        return out
    }

    /// Timeout and cache do not change what is built, so they are left out.
    public static func build(_ policy: Policy) -> [String: String] {
        let b = policy.build
        var out: [String: String] = ["build.context": b.context, "build.dockerfile": b.dockerfile ?? "(zero-config)"]
        out["build.target"] = b.target
        out["build.platform"] = b.platform
        for (name, value) in b.args { out["build.args.\(name)"] = value }
        for (id, reference) in b.secrets { out["build.secrets.\(id)"] = reference.description }
        return out
    }

    /// Fields whose values differ, sorted by field.
    public static func differences(from old: [String: String], to new: [String: String]) -> [PlanDifference] {
        Set(old.keys).union(new.keys).sorted().compactMap { field in
            old[field] == new[field] ? nil : PlanDifference(field: field, from: old[field], to: new[field])
        }
    }
}
