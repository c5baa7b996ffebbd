import Foundation

/// A deployment's way from queued to its end, from its recorded state changes: each stage it
/// reached, when, and how long the stage before it took.
public enum DeploymentTimeline {
    public struct Stage: Sendable, Hashable, Encodable {
        public var stage: String
        public var at: Date
        /// Since the previous stage began.
        public var seconds: Double?
    }

    /// `events` are the deployment's `state` events (message `STATE` or `STATE: reason`), oldest first.
    public static func stages(createdAt: Date, stateEvents events: [(message: String, at: Date)]) -> [Stage] {
        var stages = [Stage(stage: "queued", at: createdAt, seconds: nil)]
        for event in events {
            let state = String(event.message.prefix { $0 != ":" })
            guard DeploymentState(rawValue: state) != nil, state != stages.last?.stage else { continue }
            let previous = stages.last!.at
            stages.append(Stage(stage: state, at: event.at, seconds: max(0, event.at.timeIntervalSince(previous))))
        }
        return stages
    }
}
