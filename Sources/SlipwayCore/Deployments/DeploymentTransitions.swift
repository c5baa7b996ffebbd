/// The one table of how a deployment's state may change. Every write of a deployment's
/// state goes through it: the store's SQL names only the sources this table returns, so a
/// late or repeated step cannot move a deployment backwards or revive one that ended.
public enum DeploymentTransitions {
    /// The states `to` may be entered from.
    public static func sources(of to: DeploymentState) -> [DeploymentState] {
        switch to {
        case .queued:
            return []
        // A retried build starts over: building and pushing may follow each other either way.
        case .building:
            return [.queued, .building, .pushing]
        case .pushing:
            return [.queued, .building, .pushing]
        // Built and pushed, or a prebuilt image / rollback that needs no build.
        case .rollingOut:
            return [.queued, .building, .pushing, .rollingOut]
        case .watching:
            return [.rollingOut]
        // Only a watch that ran out its window ends in success.
        case .succeeded:
            return [.watching]
        // Crashed at start (rolling out) or inside the window (watching).
        case .rolledBack:
            return [.rollingOut, .watching]
        case .failed, .cancelled, .superseded:
            return [.queued, .building, .pushing, .rollingOut, .watching]
        }
    }

    public static func allows(from: DeploymentState, to: DeploymentState) -> Bool {
        sources(of: to).contains(from)
    }

    /// The raw values of `sources(of:)`, as the store's SQL takes them.
    public static func sourceNames(of to: DeploymentState) -> [String] {
        sources(of: to).map(\.rawValue)
    }
}
