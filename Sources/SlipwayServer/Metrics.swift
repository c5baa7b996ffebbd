import SlipwayStore

/// The Prometheus text format for what the database knows.
enum Metrics {
    static func render(jobs: [(kind: String, state: String, count: Int)],
                       deployments: [(service: String, state: String, count: Int)]) -> String {
        var lines = [
            "# HELP slipway_jobs Jobs in the queue by kind and state.",
            "# TYPE slipway_jobs gauge",
        ]
        lines += jobs.map { "slipway_jobs{kind=\"\(escape($0.kind))\",state=\"\(escape($0.state))\"} \($0.count)" }
        lines += [
            "# HELP slipway_deployments Deployments by service and state.",
            "# TYPE slipway_deployments gauge",
        ]
        lines += deployments.map { "slipway_deployments{service=\"\(escape($0.service))\",state=\"\(escape($0.state))\"} \($0.count)" }
        return lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
