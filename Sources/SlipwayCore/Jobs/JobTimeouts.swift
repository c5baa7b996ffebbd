/// The jobs of a deployment, with the time limits their policy implies.
public enum JobTimeouts {
    /// Fetch and push happen inside a build job too: give them room beyond build.timeout.
    static let buildMargin = TimeSpan.minutes(10)
    static let rollout = TimeSpan.minutes(10)
    /// A watch lasts its window; a restart or a rollback at its end needs a little more.
    static let watchMargin = TimeSpan.minutes(5)

    public static func job(_ kind: JobKind, deploymentID: Int64, service: String, environment: DeploymentTarget.Environment = .main,
                           policy: Policy) -> NewJob {
        // An ECS watch may run past its window while ECS still rolls out (CrashWatch.rolloutGrace).
        let grace = policy.deploy.target == .ecs ? Int64(CrashWatch.rolloutGrace * 1000) : 0
        return job(kind, deploymentID: deploymentID, service: service, environment: environment,
                   buildTimeout: policy.build.timeout, window: TimeSpan(milliseconds: policy.rollback.window.milliseconds + grace))
    }

    /// The same from the two durations that matter, for callers that do not decode the whole policy.
    public static func job(_ kind: JobKind, deploymentID: Int64, service: String, environment: DeploymentTarget.Environment = .main,
                           buildTimeout: TimeSpan, window: TimeSpan = .seconds(60)) -> NewJob {
        let timeout: TimeSpan
        switch kind {
        case .build: timeout = TimeSpan(milliseconds: buildTimeout.milliseconds + buildMargin.milliseconds)
        case .watch: timeout = TimeSpan(milliseconds: window.milliseconds + watchMargin.milliseconds)
        default: timeout = rollout
        }
        // Retire jobs are not deduplicated: one queued by a rollback must not be dropped because the
        // restored deployment's own, from when it last went live, still runs with an older choice.
        return NewJob(kind: kind, deploymentID: deploymentID, service: service, environment: environment.rawValue,
                      dedupeKey: kind == .retire ? nil : "\(kind.rawValue):\(deploymentID)", timeout: timeout)
    }
}
