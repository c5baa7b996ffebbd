import Foundation

/// A deployment's way from the push to its end, from what was recorded about it: when its
/// webhook arrived, when it was queued, its state changes and the marks the pipeline leaves
/// (fetched, pushed), its first detection, crash and rollback. One function makes it, for
/// the API, `slipway status --json`, the dashboard and the stage histograms alike.
public enum DeploymentTimeline {
    /// A point a deployment passes, in the order it can pass them.
    public enum Mark: String, Sendable, CaseIterable, Codable {
        case received, queued, claimed, fetched, detected, built, pushed, live, steady
        case crashed
        case rollbackStarted = "rollback_started"
        case rolledBack = "rolled_back"
        case failed, cancelled, superseded
    }

    public struct Stage: Sendable, Hashable, Codable {
        public var stage: String
        public var at: Date
        /// Since the previous stage; nil for the first.
        public var seconds: Double?

        public init(stage: String, at: Date, seconds: Double?) {
            self.stage = stage
            self.at = at
            self.seconds = seconds
        }

        private enum CodingKeys: String, CodingKey { case stage, at, seconds }

        /// `seconds` to the millisecond, and `null` (not absent) for the first stage.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(stage, forKey: .stage)
            try c.encode(at, forKey: .at)
            try c.encode(seconds.map { ($0 * 1000).rounded() / 1000 }, forKey: .seconds)
        }
    }

    /// What the database holds about one deployment.
    public struct Facts: Sendable {
        public var createdAt: Date
        /// Its webhook's arrival, when a webhook made it.
        public var receivedAt: Date?
        /// Its events of kinds `state`, `stage`, `detect`, `crash` and `rollback`, oldest first.
        public var events: [(kind: String, key: String?, message: String, at: Date)]

        public init(createdAt: Date, receivedAt: Date?, events: [(kind: String, key: String?, message: String, at: Date)]) {
            self.createdAt = createdAt
            self.receivedAt = receivedAt
            self.events = events
        }
    }

    /// Each mark the deployment reached (the first time), in time order, with the seconds since the one before.
    public static func stages(_ facts: Facts) -> [Stage] {
        var marks: [(Mark, Date)] = []
        var seen = Set<Mark>()
        func add(_ mark: Mark, _ at: Date) {
            guard seen.insert(mark).inserted else { return }
            marks.append((mark, at))
        }
        if let received = facts.receivedAt, received <= facts.createdAt { add(.received, received) }
        add(.queued, facts.createdAt)
        for event in facts.events {
            switch event.kind {
            case "state":
                switch DeploymentState(rawValue: String(event.message.prefix { $0 != ":" })) {
                case .building: add(.claimed, event.at)
                case .pushing: add(.built, event.at)
                case .watching: add(.live, event.at)
                case .succeeded: add(.steady, event.at)
                case .rolledBack: add(.rolledBack, event.at)
                case .failed: add(.failed, event.at)
                case .cancelled: add(.cancelled, event.at)
                case .superseded: add(.superseded, event.at)
                case .queued, .rollingOut, nil: break
                }
            case "stage": if let mark = event.key.flatMap(Mark.init(rawValue:)) { add(mark, event.at) }
            case "detect": add(.detected, event.at)
            case "crash": add(.crashed, event.at)
            case "rollback": add(.rollbackStarted, event.at)
            default: break
            }
        }
        // Stable for marks recorded in the same instant: their natural order.
        let order = Dictionary(uniqueKeysWithValues: Mark.allCases.enumerated().map { ($1, $0) })
        let sorted = marks.sorted { ($0.1, order[$0.0]!) < ($1.1, order[$1.0]!) }
        var out: [Stage] = []
        for (mark, at) in sorted {
            out.append(Stage(stage: mark.rawValue, at: at, seconds: out.last.map { max(0, at.timeIntervalSince($0.at)) }))
        }
        return out
    }

    /// What the stage histograms are given for a deployment (`slipway_stage_seconds` by `stage`,
    /// push → live, crash → rollback). `atLive`: what is known once it is live; `atEnd`: what
    /// its end adds (all of it for one that never went live).
    public struct Observations: Sendable, Hashable {
        public var stages: [String: Double] = [:]
        public var pushToLive: Double?
        public var crashToRollbackStarted: Double?
        public var crashToRollbackFinished: Double?
    }

    /// The `stage` label of each span: the mark it ends at, and the one it starts from (the first present).
    static let spans: [(label: String, to: Mark, from: [Mark])] = [
        ("claim", .claimed, [.queued]),
        ("fetch", .fetched, [.claimed]),
        ("detect", .detected, [.fetched]),
        ("build", .built, [.detected, .fetched, .claimed]),
        ("push", .pushed, [.built]),
        ("rollout", .live, [.pushed]),
        ("steady", .steady, [.live]),
    ]

    public static let stageLabels = spans.map(\.label)

    public static func observations(_ stages: [Stage], upToLive: Bool) -> Observations {
        var at: [Mark: Date] = [:]
        for stage in stages { if let mark = Mark(rawValue: stage.stage) { at[mark] = stage.at } }
        var out = Observations()
        for span in spans where !(upToLive && span.to == .steady) {
            guard let end = at[span.to], let start = span.from.lazy.compactMap({ at[$0] }).first else { continue }
            out.stages[span.label] = max(0, end.timeIntervalSince(start))
        }
        if let live = at[.live], let start = at[.received] ?? at[.queued] { out.pushToLive = max(0, live.timeIntervalSince(start)) }
        if !upToLive, let crashed = at[.crashed] {
            out.crashToRollbackStarted = at[.rollbackStarted].map { max(0, $0.timeIntervalSince(crashed)) }
            out.crashToRollbackFinished = at[.rolledBack].map { max(0, $0.timeIntervalSince(crashed)) }
        }
        return out
    }

    /// What a deployment's end adds when its stages up to live were observed already.
    public static func observationsAtEnd(_ stages: [Stage], liveObserved: Bool) -> Observations {
        var all = observations(stages, upToLive: false)
        guard liveObserved else { return all }
        let before = observations(stages, upToLive: true)
        for label in before.stages.keys { all.stages[label] = nil }
        all.pushToLive = nil
        return all
    }
}
