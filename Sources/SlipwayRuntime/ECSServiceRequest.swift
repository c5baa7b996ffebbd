import SlipwayCore

/// The CreateService request for a service Slipway creates: awsvpc networking from the
/// policy, and ECS's circuit breaker on without its own rollback, so a failed rollout is
/// reported to Slipway (which rolls back and says why) instead of being undone silently.
enum ECSServiceRequest {
    static func create(policy: Policy, settings: Policy.ECS, taskDefinition: String, count: Int) throws -> [String: Any] {
        guard !settings.subnets.isEmpty else {
            throw RuntimeFailure("ECS service \(settings.service ?? policy.service) does not exist in cluster \(settings.cluster), and Slipway cannot create it without subnets: list them in deploy.ecs.subnets (with deploy.ecs.securityGroups), or create the service yourself")
        }
        var request: [String: Any] = [
            "cluster": settings.cluster,
            "serviceName": settings.service ?? policy.service,
            "taskDefinition": taskDefinition,
            "desiredCount": count,
            "networkConfiguration": ["awsvpcConfiguration": [
                "subnets": settings.subnets,
                "securityGroups": settings.securityGroups,
                "assignPublicIp": settings.assignPublicIp ? "ENABLED" : "DISABLED",
            ]],
            "deploymentConfiguration": [
                "deploymentCircuitBreaker": ["enable": true, "rollback": false],
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            ],
            "tags": [["key": "slipway.service", "value": policy.service]],
        ]
        if let provider = settings.capacityProvider {
            request["capacityProviderStrategy"] = [["capacityProvider": provider, "weight": 1]]
        } else if let launchType = settings.launchType {
            request["launchType"] = launchType.rawValue
        }
        return request
    }
}
