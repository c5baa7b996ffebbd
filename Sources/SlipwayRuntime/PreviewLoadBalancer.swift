import Foundation
import SlipwayAWS
import SlipwayCore

/// A preview's way in on an ALB (`previews.loadBalancer`): its own target group and a
/// host-header rule on the listener, both named and tagged after the preview, so they are
/// found again for teardown without any record of their ARNs.
struct PreviewLoadBalancer {
    let client: AWSClient
    var elb: ELBv2API { ELBv2API(client: client) }

    /// Target group names are at most 32 characters of `[A-Za-z0-9-]`.
    static func targetGroupName(_ target: DeploymentTarget) -> String {
        PreviewRules.shortened("slipway-\(target.runtimeName)", limit: 32)
    }

    static func tags(_ target: DeploymentTarget) -> [String: String] {
        ["slipway.service": target.service, "slipway.environment": target.environment.rawValue]
    }

    /// The host a preview answers on: its URL's.
    static func host(policy: Policy, target: DeploymentTarget) -> String? {
        guard case .pullRequest(let number) = target.environment, let template = policy.previews.url else { return nil }
        let url = PreviewRules.url(template: template, number: number, service: policy.service, branch: policy.deploy.env["SLIPWAY_PR_BRANCH"])
        return URL(string: url)?.host
    }

    /// The target group (created when missing) with its rule on the listener; returns the group's ARN.
    func ensure(target: DeploymentTarget, policy: Policy, balancer: Policy.Previews.LoadBalancer) async throws -> String {
        guard let host = Self.host(policy: policy, target: target) else {
            throw RuntimeFailure("previews.loadBalancer needs previews.url: the listener rule matches the preview URL's host")
        }
        guard let port = policy.deploy.port else {
            throw RuntimeFailure("previews.loadBalancer needs deploy.port: the target group forwards to it")
        }
        let name = Self.targetGroupName(target)
        var group = try await elb.targetGroup(named: name)
        if group == nil {
            group = try await elb.createTargetGroup(name: name, port: port, vpcId: balancer.vpcId, healthCheckPath: balancer.healthCheckPath,
                                                    tags: Self.tags(target))
        }
        guard let group else { throw RuntimeFailure("target group \(name) was neither found nor created") }
        let rules = try await elb.rules(listener: balancer.listenerArn)
        if rules.contains(where: { $0.targetGroups.contains(group.arn) }) { return group.arn }
        let taken = Set(rules.compactMap { Int($0.priority) })
        // Another preview's rollout may take a free priority at the same moment: the next free one is tried.
        for priority in balancer.priorities.lazy.filter({ !taken.contains($0) }).prefix(5) {
            do {
                _ = try await elb.createRule(listener: balancer.listenerArn, priority: priority, host: host, targetGroup: group.arn,
                                             tags: Self.tags(target))
                return group.arn
            } catch let error as AWSError where error.code == "PriorityInUse" {
                continue
            }
        }
        throw RuntimeFailure("no free rule priority in previews.loadBalancer.priorities (\(balancer.priorities.lowerBound)–\(balancer.priorities.upperBound)) on \(balancer.listenerArn): widen the range or lower previews.count")
    }

    /// The preview's rule(s) and target group, when they exist.
    func remove(target: DeploymentTarget, balancer: Policy.Previews.LoadBalancer) async throws {
        guard let group = try await elb.targetGroup(named: Self.targetGroupName(target)) else { return }
        for rule in try await elb.rules(listener: balancer.listenerArn) where rule.targetGroups.contains(group.arn) {
            try await elb.deleteRule(rule.arn)
        }
        try await elb.deleteTargetGroup(group.arn)
    }
}
