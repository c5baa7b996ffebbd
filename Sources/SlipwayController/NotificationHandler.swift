import Foundation
import Logging
import SlipwayCore
import SlipwaySourceHosts
import SlipwayStore
import SlipwaySystem

/// Tells people what happened to a deployment: a Slack message, or a signed JSON body to any
/// webhook, per channel of the service's `notify:` (else SLIPWAY_NOTIFY). The database queued
/// this job with the change itself; each channel gets one delivery row whose id the receiver
/// sees on every attempt, and a sent delivery is never sent again (a restart included).
/// A channel that is down only delays its own message: the job is retried with backoff and
/// gives up after its attempts; deployments never wait for it.
public struct NotificationHandler: JobHandler {
    let store: Store
    let secrets: SecretReader
    let transport: any APITransport
    /// SLIPWAY_NOTIFY's channels, for services without a `notify:` of their own.
    let fallback: [NotifyChannel]
    let publicURL: String?
    let count: MetricCounter?
    public var kind: JobKind { .notification }

    /// Longer than one call may take (15 s) with room; a sender that died frees the delivery after it.
    static let lease = TimeSpan.seconds(60)

    public init(store: Store, secrets: SecretReader, transport: any APITransport, fallback: [NotifyChannel],
                publicURL: String?, count: MetricCounter? = nil) {
        self.store = store
        self.secrets = secrets
        self.transport = transport
        self.fallback = fallback
        self.publicURL = publicURL
        self.count = count
    }

    public func run(_ job: ClaimedJob, logger: Logger) async throws {
        guard let id = job.payload["notification"].flatMap(Int64.init) else {
            throw PermanentJobError("a notification job names no notification")
        }
        guard let row = try await store.notification(id) else { return }   // pruned meanwhile
        var log = logger
        log[metadataKey: "notification.id"] = "\(id)"
        log[metadataKey: "notification.event"] = "\(row.event.rawValue)"
        let channels = NotificationRules.channels(policy: row.policy?.notify, fallback: fallback, event: row.event)
        let deliveries = try await store.deliveries(of: id, channels: channels)
        let facts = Self.facts(row, publicURL: publicURL)
        let lastAttempt = job.attempts >= job.maxAttempts
        var later: [String] = []
        var leased: [NotificationDeliveryRow] = []
        for delivery in deliveries where delivery.state == "pending" {
            if try await store.leaseDelivery(delivery.id, for: Self.lease) {
                leased.append(delivery)
            } else {
                later.append("delivery \(delivery.delivery.uuidString.lowercased()) is being sent by another worker")
            }
        }
        // Channels are sent to at once: a slow receiver delays only its own message.
        let results = await withTaskGroup(of: (NotificationDeliveryRow, NotificationAnswer, Int?, String?).self) { group in
            for delivery in leased {
                group.addTask {
                    let (answer, status, why) = await send(delivery, facts: facts)
                    return (delivery, answer, status, why)
                }
            }
            var out: [(NotificationDeliveryRow, NotificationAnswer, Int?, String?)] = []
            for await result in group { out.append(result) }
            return out
        }
        // Stopped (a shutdown): what was delivered is recorded, the rest stays pending for the next attempt.
        let stopped = Task.isCancelled
        for (delivery, answer, status, why) in results.sorted(by: { $0.0.channel < $1.0.channel }) {
            var one = log
            one[metadataKey: "notification.delivery"] = "\(delivery.delivery.uuidString.lowercased())"
            one[metadataKey: "notification.channel"] = "\(delivery.spec.kind.rawValue)"
            let outcome = DeliveryOutcome.of(answer, lastAttempt: lastAttempt, stopped: stopped)
            try await store.finishDelivery(delivery.id, state: outcome.state, status: status, error: outcome == .sent ? nil : why)
            if outcome != .stopped { count?(MetricCatalog.notifications, [delivery.spec.kind.rawValue, outcome.rawValue]) }
            let error: Logger.Metadata = ["error": "\(why ?? "")"]
            switch outcome {
            case .sent: one.info("notification sent", metadata: ["http.status": "\(status ?? 0)"])
            case .refused: one.error("notification refused; it is not sent again", metadata: error)
            case .gaveUp: one.error("notification not delivered after \(job.attempts) attempts; giving up", metadata: error)
            case .retried: one.warning("notification not delivered; it will be tried again", metadata: error)
            case .stopped: break
            }
            if !outcome.isFinal { later.append(why ?? "not delivered") }
        }
        if stopped { throw CancellationError() }
        if !later.isEmpty {
            throw RetryLater("\(later.count) of \(deliveries.count) notifications will be tried again: \(later[0])", after: nil)
        }
    }

    /// One attempt: the answer's meaning, its status, and why when it was not delivered.
    func send(_ delivery: NotificationDeliveryRow, facts: NotificationFacts) async -> (NotificationAnswer, Int?, String?) {
        let spec = delivery.spec
        let what = "notify[\(delivery.channel)].\(spec.kind.rawValue)"
        let url: String, secret: String?
        do {
            switch spec.url {
            case .literal(let text): url = text
            case .reference(let reference): url = try secrets.value(reference, for: what, trimmingNewline: true)
            }
            secret = try spec.secret.map { try secrets.value($0, for: "notify[\(delivery.channel)].secret", trimmingNewline: true) }
        } catch {
            // Fixed on the server (a variable set, a file mounted) the next attempt gets through.
            return (.retry, nil, "\(error)")
        }
        let deliveryID = delivery.delivery.uuidString.lowercased()
        let body: [UInt8]
        do {
            body = spec.kind == .slack ? try NotificationPayloads.slack(facts) : try NotificationPayloads.webhook(facts, delivery: deliveryID)
        } catch {
            return (.refused, nil, "the message could not be written: \(error)")
        }
        let call = NotificationCall.make(kind: spec.kind, url: url, body: body, event: facts.event, delivery: deliveryID, secret: secret)
        do {
            let answer = try await transport.send(call)
            let meaning = NotificationAnswer.classify(status: answer.status)
            // Never the URL in the message: a Slack webhook's URL is its secret.
            let why = meaning == .delivered ? nil
                : "\(what) answered HTTP \(answer.status): \(Terminal.printable(answer.body, limit: 200))"
            return (meaning, answer.status, why)
        } catch {
            return (.retry, nil, "\(what) did not answer: \(Self.redacted("\(error)", url: url))")
        }
    }

    /// An error's text without the URL it may quote.
    static func redacted(_ text: String, url: String) -> String {
        text.replacingOccurrences(of: url, with: "(the channel's URL)")
    }

    static func facts(_ row: NotificationRow, publicURL: String?) -> NotificationFacts {
        NotificationFacts(
            event: row.event, service: row.service, environment: row.environment, deploymentID: row.deploymentID,
            state: row.state, sha: row.sha, branch: row.branch, author: row.author, subject: row.subject, reason: row.reason,
            by: row.by, pullRequest: row.previewNumber, previewURL: row.previewURL,
            deploymentURL: zip2(publicURL, row.deploymentID).map { "\($0)/deployments/\($1)" },
            commitURL: zip2(row.policy?.source.repo, row.sha).flatMap { NotificationFacts.commitURL(repo: $0, sha: $1) },
            at: row.createdAt)
    }

    private static func zip2<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
        guard let a, let b else { return nil }
        return (a, b)
    }
}
