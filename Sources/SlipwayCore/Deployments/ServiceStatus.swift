import Foundation

/// One element of `slipway status --json`: a service, the commit running now, and its
/// deployments newest first. Optional keys are printed as `null`, never dropped.
public struct ServiceStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// A deployment is queued, building, rolling out or being watched.
        case deploying
        /// A revision runs and nothing is in flight.
        case live
        /// Deployed before, but nothing runs now (the only revision crashed, say).
        case down
        /// Never deployed.
        case notDeployed = "not_deployed"
    }

    public struct Deployment: Sendable, Hashable, Codable {
        public var id: Int64
        public var sha: String?
        public var state: DeploymentState
        public var reason: String?
        public var trigger: DeploymentTrigger
        public var image: String?
        public var digest: String?
        public var createdAt: Date
        public var updatedAt: Date
        public var liveAt: Date?
        public var finishedAt: Date?
        /// The API token's name that asked for it; nil for pushes and the reconciler.
        public var by: String?
        /// Each stage it reached, when, and how long after the one before (`DeploymentTimeline`);
        /// printed where it was read (`slipway status --json`, one deployment in the API).
        public var timeline: [DeploymentTimeline.Stage]?

        public init(id: Int64, sha: String?, state: DeploymentState, reason: String?, trigger: DeploymentTrigger,
                    image: String?, digest: String?, createdAt: Date, updatedAt: Date, liveAt: Date?, finishedAt: Date?, by: String? = nil) {
            self.by = by
            self.id = id
            self.sha = sha
            self.state = state
            self.reason = reason
            self.trigger = trigger
            self.image = image
            self.digest = digest
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.liveAt = liveAt
            self.finishedAt = finishedAt
        }

        private enum CodingKeys: String, CodingKey {
            case id, sha, state, reason, trigger, image, digest, createdAt, updatedAt, liveAt, finishedAt, by, timeline
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(sha, forKey: .sha)
            try c.encode(state, forKey: .state)
            try c.encode(reason, forKey: .reason)
            try c.encode(trigger, forKey: .trigger)
            try c.encode(image, forKey: .image)
            try c.encode(digest, forKey: .digest)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(updatedAt, forKey: .updatedAt)
            try c.encode(liveAt, forKey: .liveAt)
            try c.encode(finishedAt, forKey: .finishedAt)
            try c.encode(by, forKey: .by)
            if let timeline { try c.encode(timeline, forKey: .timeline) }
        }
    }

    public var service: String
    public var liveSHA: String?
    public var liveDeploymentID: Int64?
    public var state: State
    public var deployments: [Deployment]
    /// Its pull requests' previews, open ones first; printed only for a service that has had any.
    public var previews: [PreviewStatus] = []
    /// Instances of the live revision the runtime runs now; printed only where the runtime
    /// was asked (a server has one; the CLI with only a database does not).
    public var running: Int?

    /// What the runtime says runs: a live revision with no instance running (stopped by hand,
    /// say) is `down`, whatever the database last recorded.
    public mutating func observed(running count: Int) {
        running = count
        if state == .live && count == 0 { state = .down }
    }

    /// - Parameters:
    ///   - live: the deployment running now, if any (it may be older than the listed ones).
    /// - Parameters:
    ///   - inFlight, everDeployed: what all its deployments say, when `deployments` is only the newest few.
    public init(service: String, live: (id: Int64, sha: String?)?, deployments: [Deployment], inFlight: Bool? = nil, everDeployed: Bool? = nil) {
        let ordered = deployments.sorted { $0.id > $1.id }
        self.service = service
        self.liveDeploymentID = live?.id
        self.liveSHA = live?.sha
        self.deployments = ordered
        self.state = Self.state(live: live != nil, inFlight: inFlight ?? ordered.contains { !$0.state.isFinal },
                                everDeployed: everDeployed ?? !ordered.isEmpty)
    }

    static func state(live: Bool, inFlight: Bool, everDeployed: Bool) -> State {
        if inFlight { return .deploying }
        if live { return .live }
        return everDeployed ? .down : .notDeployed
    }

    private enum CodingKeys: String, CodingKey { case service, liveSHA, liveDeploymentID, state, running, deployments, previews }

    /// As the API serves it (the CLI over the API prints what it decodes, as it prints the database's).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(String.self, forKey: .service)
        liveSHA = try c.decodeIfPresent(String.self, forKey: .liveSHA)
        liveDeploymentID = try c.decodeIfPresent(Int64.self, forKey: .liveDeploymentID)
        state = try c.decode(State.self, forKey: .state)
        deployments = try c.decode([Deployment].self, forKey: .deployments)
        previews = try c.decodeIfPresent([PreviewStatus].self, forKey: .previews) ?? []
        running = try c.decodeIfPresent(Int.self, forKey: .running)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(service, forKey: .service)
        try c.encode(liveSHA, forKey: .liveSHA)
        try c.encode(liveDeploymentID, forKey: .liveDeploymentID)
        try c.encode(state, forKey: .state)
        if let running { try c.encode(running, forKey: .running) }
        try c.encode(deployments, forKey: .deployments)
        if !previews.isEmpty { try c.encode(previews, forKey: .previews) }
    }
}

extension JSONEncoder {
    /// The encoder for every JSON Slipway prints or serves: stable key order, ISO 8601 dates.
    public static var slipway: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(ISO8601.format(date))
        }
        return encoder
    }
}

extension JSONDecoder {
    /// Reads what `JSONEncoder.slipway` writes (ISO 8601 dates with or without fractions).
    public static var slipway: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = ISO8601.parse(text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "`\(text)` is not an ISO 8601 date"))
        }
        return decoder
    }
}

public enum ISO8601 {
    public static func parse(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// `2026-12-07T16:33:31.123Z`: UTC, to the nearest millisecond, so that what `parse`
    /// reads back is written the same (Foundation's style truncates, and a parsed `.461`
    /// is a hair under it: a date that went through the API came back a millisecond early).
    /// Written by hand: the style also took an eighth of a service list's time.
    public static func format(_ date: Date) -> String {
        let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let millisecond = Int(((total % 1000) + 1000) % 1000)
        let seconds = (total - Int64(millisecond)) / 1000
        // Days since the epoch to a civil date (Howard Hinnant's days_from_civil, inverted).
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); bytes.append(UInt8(ascii: "-"))
        digits(month, 2); bytes.append(UInt8(ascii: "-"))
        digits(day, 2); bytes.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2); bytes.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2); bytes.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2); bytes.append(UInt8(ascii: "."))
        digits(millisecond, 3); bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A deployment as the API lists it: the status contract's deployment, with its service and environment.
public struct DeploymentSummary: Sendable, Hashable, Encodable {
    public var service: String
    public var environment: String
    public var deployment: ServiceStatus.Deployment

    public init(service: String, environment: String, deployment: ServiceStatus.Deployment) {
        self.service = service
        self.environment = environment
        self.deployment = deployment
    }

    private enum CodingKeys: String, CodingKey { case service, environment }

    public func encode(to encoder: any Encoder) throws {
        try deployment.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(service, forKey: .service)
        try c.encode(environment, forKey: .environment)
    }
}
