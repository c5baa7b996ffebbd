import Foundation
import PostgresNIO
import SlipwayCore

/// One event of a webhook body (or of a poll) and what matching decided for it.
public struct DeliveryRecord: Sendable {
    public var event: NormalizedEvent
    public var deliveryID: String
    public var outcomes: [EventMatching.Outcome]
    /// The event as stored, when the caller encoded it already (off the writer's path).
    public var payload: String?
    public init(event: NormalizedEvent, deliveryID: String, outcomes: [EventMatching.Outcome], payload: String? = nil) {
        self.event = event
        self.deliveryID = deliveryID
        self.outcomes = outcomes
        self.payload = payload
    }

    /// Ids made by Slipway for deliveries that came without one.
    public static let derivedPrefix = "derived:"

    /// A short, stable mark of a delivery id.
    static func mark(_ id: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325    // FNV-1a: stable across processes, unlike Hasher
        for byte in id.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// The stored form of an event.
    public static func payload(of event: NormalizedEvent) throws -> String {
        String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
    }
}

/// What became of a webhook delivery.
public enum DeliveryResult: Sendable, Hashable {
    /// Seen before (same provider delivery id): nothing new was created.
    case duplicate
    /// Stored; one deployment (and build job) per service the push deploys. `outcomes`
    /// are the final ones (a commit already deploying is skipped, not deployed twice).
    case recorded(deliveryRowID: Int64, deployments: [String: Int64], outcomes: [EventMatching.Outcome])
}

extension Store {
    /// Runs database work within `limit`, or throws (the work may still finish). Webhooks use
    /// it so a stalled database answers 503 before the provider's 10 s run out; tests use it
    /// so a call whose connection was killed cannot hang them.
    public func withinDeadline<T: Sendable>(_ limit: Duration,
                                                   _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Deadline.run(within: limit, work)
    }

    /// Whether `error` is a call given up after its time limit (the work may still finish).
    public static func isTimeout(_ error: any Error) -> Bool { error is Deadline.Exceeded }

    /// Stores deliveries (of one body, or of many bodies the intake batched), and for each
    /// `.deploy` outcome a deployment and its build job, and a `paths` job per delivery
    /// with services waiting for their changed files, in one transaction: either all of it
    /// is durable or none of it is. The statements are one per step, not one per delivery.
    public func recordDeliveries(_ records: [DeliveryRecord]) async throws -> [DeliveryResult] {
        guard !records.isEmpty else { return [] }
        return try await client.transaction(logger: logger) { [logger] connection in
            try await Self.record(records, on: connection, logger: logger)
        }
    }

    public func recordDelivery(_ event: NormalizedEvent, deliveryID: String,
                               outcomes: [EventMatching.Outcome]) async throws -> DeliveryResult {
        try await recordDeliveries([DeliveryRecord(event: event, deliveryID: deliveryID, outcomes: outcomes)])[0]
    }

    static func record(_ records: [DeliveryRecord], on connection: PostgresConnection, logger: Logger) async throws -> [DeliveryResult] {
        let rowIDs = try await insertDeliveries(records, on: connection, logger: logger)

        var wanted: [WantedDeployment] = []
        for (index, record) in records.enumerated() {
            guard let rowID = rowIDs[index] else { continue }
            for case .deploy(let service, let sha) in record.outcomes {
                wanted.append(WantedDeployment(record: index, service: service, sha: sha, branch: record.event.branch,
                                               deliveryRowID: rowID, ref: record.event.ref, before: record.event.before))
            }
        }
        let created = try await createDeployments(wanted, unlessNewerThan: nil, on: connection, logger: logger)
        var deployments = [[String: Int64]](repeating: [:], count: records.count)
        for deployment in created { deployments[deployment.record][deployment.service] = deployment.id }

        let notCreated = wanted.filter { deployments[$0.record][$0.service] == nil }.map { ($0.service, $0.sha) }
        let reasons = try await reasonsNotDeployed(notCreated, newerThan: nil, on: connection, logger: logger)

        var results: [DeliveryResult] = []
        var waiting: [(rowID: Int64, services: [String])] = []
        var previews: [(rowID: Int64, services: [String], number: Int)] = []
        var changed: [(rowID: Int64, event: NormalizedEvent, outcomes: [EventMatching.Outcome])] = []
        for (index, record) in records.enumerated() {
            guard let rowID = rowIDs[index] else {
                results.append(.duplicate)
                continue
            }
            let outcomes = record.outcomes.map { outcome -> EventMatching.Outcome in
                guard case .deploy(let service, let sha) = outcome, deployments[index][service] == nil else { return outcome }
                return .skip(service: service, reason: reasons[service + "\u{0}" + sha] ?? Self.undeclared(service))
            }
            let services = outcomes.compactMap { if case .awaitChangedPaths(let s, _) = $0 { s } else { nil } }
            if !services.isEmpty { waiting.append((rowID, services)) }
            let previewing = outcomes.compactMap { if case .preview(let s, _) = $0 { s } else { nil } }
            if !previewing.isEmpty, let number = record.event.pullRequest?.number { previews.append((rowID, previewing, number)) }
            if outcomes != record.outcomes { changed.append((rowID, record.event, outcomes)) }
            results.append(.recorded(deliveryRowID: rowID, deployments: deployments[index], outcomes: outcomes))
        }
        try await enqueuePathJobs(waiting, on: connection, logger: logger)
        try await enqueuePreviewJobs(previews, on: connection, logger: logger)
        try await updateOutcomes(changed, on: connection, logger: logger)
        return results
    }

    /// One row per delivery; a delivery seen before (or twice in the batch) gets nil.
    static func insertDeliveries(_ records: [DeliveryRecord], on connection: PostgresConnection,
                                 logger: Logger) async throws -> [Int64?] {
        let ids = try await deliveryIDs(records, on: connection, logger: logger)
        var columns = (provider: [String](), delivery: [String](), event: [String](), kind: [String](), repository: [String](),
                       ref: [String](), before: [String](), after: [String](), outcome: [String](), detail: [String](),
                       payload: [String](), name: [String]())
        for (record, id) in zip(records, ids) {
            let event = record.event
            let (outcome, detail) = EventMatching.summary(for: event, outcomes: record.outcomes)
            columns.provider.append(event.provider.rawValue)
            columns.delivery.append(id)
            columns.event.append(event.event)
            columns.kind.append(event.kind.rawValue)
            columns.repository.append(event.repository?.cloneURL ?? "")
            columns.name.append(event.repository?.fullName ?? "")
            columns.ref.append(event.ref ?? "")
            columns.before.append(event.before ?? "")
            columns.after.append(event.after ?? "")
            columns.outcome.append(outcome)
            columns.detail.append(try json(detail))
            columns.payload.append(try record.payload ?? DeliveryRecord.payload(of: event))
        }
        // Arrays cannot carry NULL here: '' stands for it and is turned back.
        let rows = try await connection.query("""
            INSERT INTO webhook_deliveries (provider, delivery_id, event, kind, repository, ref, before_sha, after_sha, outcome,
                                            detail, payload, repository_name)
            SELECT provider, delivery, event, kind, nullif(repository, ''), nullif(ref, ''), nullif(before, ''), nullif(after, ''),
                   outcome, detail::jsonb, payload::jsonb, nullif(name, '')
            FROM unnest(\(columns.provider)::text[], \(columns.delivery)::text[], \(columns.event)::text[], \(columns.kind)::text[],
                        \(columns.repository)::text[], \(columns.ref)::text[], \(columns.before)::text[], \(columns.after)::text[],
                        \(columns.outcome)::text[], \(columns.detail)::text[], \(columns.payload)::text[], \(columns.name)::text[])
                 AS d(provider, delivery, event, kind, repository, ref, before, after, outcome, detail, payload, name)
            ON CONFLICT (provider, delivery_id) DO NOTHING
            RETURNING id, provider, delivery_id
            """, logger: logger)
        var inserted: [String: Int64] = [:]
        for try await (id, provider, delivery) in rows.decode((Int64, String, String).self) {
            inserted[provider + "\u{0}" + delivery] = id
        }
        // The first record of a key takes its row; a repeat within the batch is a duplicate like any redelivery.
        return zip(records, ids).map { record, id in inserted.removeValue(forKey: record.event.provider.rawValue + "\u{0}" + id) }
    }

    /// The ids rows are stored under. A delivery without a provider id has one derived from
    /// what it says (`derived:…`); it is a repeat only of the delivery just before it on its
    /// ref. The same push made again later (A→B, back to A, then B again) is told apart by
    /// what came before it: its id gets that delivery's mark.
    static func deliveryIDs(_ records: [DeliveryRecord], on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        func key(_ event: NormalizedEvent) -> [String] { [event.provider.rawValue, event.repository?.cloneURL ?? "", event.ref ?? ""] }
        let derived = records.filter { $0.deliveryID.hasPrefix(DeliveryRecord.derivedPrefix) && $0.event.ref != nil }
        guard !derived.isEmpty else { return records.map(\.deliveryID) }
        let keys = Array(Set(derived.map { key($0.event) }))
        let rows = try await connection.query("""
            SELECT k.provider, k.repository, k.ref, l.delivery_id
            FROM unnest(\(keys.map { $0[0] })::text[], \(keys.map { $0[1] })::text[], \(keys.map { $0[2] })::text[]) AS k(provider, repository, ref)
            CROSS JOIN LATERAL (SELECT delivery_id FROM webhook_deliveries w
                                WHERE w.provider = k.provider AND w.repository = nullif(k.repository, '') AND w.ref = k.ref
                                ORDER BY id DESC LIMIT 1) l
            """, logger: logger)
        var latest: [[String]: String] = [:]
        for try await (provider, repository, ref, delivery) in rows.decode((String, String, String, String).self) {
            latest[[provider, repository, ref]] = delivery
        }
        return records.map { record in
            let id = record.deliveryID
            guard id.hasPrefix(DeliveryRecord.derivedPrefix), record.event.ref != nil else { return id }
            let ref = key(record.event)
            let stored: String
            if let previous = latest[ref] {
                let previousBase = previous.split(separator: "~", maxSplits: 1).first.map(String.init) ?? previous
                stored = previousBase == id ? previous : "\(id)~\(DeliveryRecord.mark(previous))"
            } else {
                stored = id
            }
            latest[ref] = stored
            return stored
        }
    }

    static func enqueuePathJobs(_ waiting: [(rowID: Int64, services: [String])], on connection: PostgresConnection,
                                logger: Logger) async throws {
        for (rowID, services) in waiting {
            try await JobQueue.enqueue(NewJob(kind: .paths, dedupeKey: "paths:\(rowID)", timeout: .minutes(10),
                                              payload: ["delivery": "\(rowID)", "services": services.joined(separator: ",")]),
                                       on: connection, logger: logger)
        }
    }

    /// One `preview` job per pull request event: it fetches the head and opens, updates or
    /// closes the previews. Jobs of one pull request run one at a time, in order (the
    /// environment key), so an older event never lands after a newer one.
    static func enqueuePreviewJobs(_ previews: [(rowID: Int64, services: [String], number: Int)], on connection: PostgresConnection,
                                   logger: Logger) async throws {
        for (rowID, services, number) in previews {
            try await JobQueue.enqueue(NewJob(kind: .preview, environment: "pr-\(number)", dedupeKey: "preview:\(rowID)", timeout: .minutes(10),
                                              payload: ["delivery": "\(rowID)", "services": services.joined(separator: ","),
                                                        "number": "\(number)"]),
                                       on: connection, logger: logger)
        }
    }

    static func updateOutcomes(_ changed: [(rowID: Int64, event: NormalizedEvent, outcomes: [EventMatching.Outcome])],
                               on connection: PostgresConnection, logger: Logger) async throws {
        for (rowID, event, outcomes) in changed {
            try await updateOutcome(rowID, event: event, outcomes: outcomes, on: connection, logger: logger)
        }
    }

    static func undeclared(_ service: String) -> String { "service \(service) is no longer declared by a policy" }

    /// Why each (service, commit) got no deployment, in one query however many there are
    /// (a second hook for a push to a 1,500-service monorepo). Keyed by service and SHA.
    static func reasonsNotDeployed(_ pairs: [(service: String, sha: String)], newerThan: Int64?, on connection: PostgresConnection,
                                   logger: Logger) async throws -> [String: String] {
        guard !pairs.isEmpty else { return [:] }
        let limit = newerThan ?? Int64.max
        // Per pair: a deployment from a newer push if there is one, else the latest of that commit.
        let rows = try await connection.query("""
            SELECT w.service, w.sha, d.id, d.state, d.sha AS deployed, coalesce(d.id = t.live_deployment_id, false) AS live, d.newer
            FROM unnest(\(pairs.map(\.service))::text[], \(pairs.map(\.sha))::text[]) AS w(service, sha)
            JOIN services s ON s.name = w.service
            LEFT JOIN targets t ON t.service = s.name AND t.environment = 'main'
            CROSS JOIN LATERAL (
                (SELECT id, state, sha, true AS newer FROM deployments
                 WHERE service = w.service AND environment = 'main' AND delivery_id > \(limit) ORDER BY delivery_id DESC LIMIT 1)
                UNION ALL
                (SELECT id, state, sha, false FROM deployments
                 WHERE service = w.service AND environment = 'main' AND sha = w.sha ORDER BY id DESC LIMIT 1)
                LIMIT 1) AS d
            """, logger: logger)
        var reasons: [String: String] = [:]
        for try await (service, sha, id, state, deployed, live, newer) in rows.decode((String, String, Int64, String, String?, Bool, Bool).self) {
            let short = String(sha.prefix(12))
            let reason: String
            if newer {
                reason = "a newer push already deployed it (deployment \(id), \(String((deployed ?? "?").prefix(12))))"
            } else if live {
                reason = "commit \(short) is already live (deployment \(id))"
            } else if DeploymentState(rawValue: state)?.isFinal == false {
                reason = "commit \(short) is already deploying (deployment \(id), \(state))"
            } else {
                reason = "this push of commit \(short) was already deployed (deployment \(id), now \(state))"
            }
            reasons[service + "\u{0}" + sha] = reason
        }
        return reasons
    }

    static func updateOutcome(_ rowID: Int64, event: NormalizedEvent, outcomes: [EventMatching.Outcome],
                              on connection: PostgresConnection, logger: Logger) async throws {
        let (text, detail) = EventMatching.summary(for: event, outcomes: outcomes)
        try await connection.query("""
            UPDATE webhook_deliveries SET outcome = \(text), detail = detail || \(try json(detail))::jsonb WHERE id = \(rowID)
            """, logger: logger)
    }

    /// The delivery a `paths` job decides, as stored.
    public func delivery(_ rowID: Int64) async throws -> NormalizedEvent? {
        let rows = try await client.query("SELECT payload::text AS payload FROM webhook_deliveries WHERE id = \(rowID)",
                                          logger: logger).rows()
        guard let row = rows.first else { return nil }
        return try Self.decodeJSON(NormalizedEvent.self, try row.value("payload"))
    }

    /// Lands the decisions that waited for a push's changed files: deployments for the
    /// services it concerns (unless a newer push got there first), the reasons for the rest.
    public func resolveDelivery(_ rowID: Int64, event: NormalizedEvent,
                                outcomes: [EventMatching.Outcome]) async throws -> [String: Int64] {
        try await client.transaction(logger: logger) { connection in
            let wanted = outcomes.compactMap { outcome -> WantedDeployment? in
                guard case .deploy(let service, let sha) = outcome else { return nil }
                return WantedDeployment(record: 0, service: service, sha: sha, branch: event.branch, deliveryRowID: rowID,
                                        ref: event.ref, before: event.before)
            }
            let created = try await Self.createDeployments(wanted, unlessNewerThan: rowID, on: connection, logger: logger)
            let deployments = Dictionary(created.map { ($0.service, $0.id) }, uniquingKeysWith: { first, _ in first })
            let notCreated = wanted.filter { deployments[$0.service] == nil }.map { ($0.service, $0.sha) }
            let reasons = try await Self.reasonsNotDeployed(notCreated, newerThan: rowID, on: connection, logger: logger)
            let final = outcomes.map { outcome -> EventMatching.Outcome in
                guard case .deploy(let service, let sha) = outcome, deployments[service] == nil else { return outcome }
                return .skip(service: service, reason: reasons[service + "\u{0}" + sha] ?? Self.undeclared(service))
            }
            let (_, detail) = EventMatching.summary(for: event, outcomes: final)
            try await connection.query("""
                UPDATE webhook_deliveries SET detail = detail || \(try Self.json(detail))::jsonb,
                    outcome = CASE WHEN \(!deployments.isEmpty) THEN 'queued'
                                   WHEN outcome = 'matching' THEN 'skipped' ELSE outcome END
                WHERE id = \(rowID)
                """, logger: logger)
            return deployments
        }
    }
}
