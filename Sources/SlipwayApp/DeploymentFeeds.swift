import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import Synchronization

/// One reader of the database per followed deployment, however many follow it: the API's
/// event streams and the dashboard's pages share a feed that one `DeploymentFollower` fills,
/// so 200 people watching a build cost one look every `interval`, not 200. A feed keeps what
/// it read while anyone follows (a late follower gets it all from the start, like a lone
/// follower would), and goes away with its last follower.
public final class DeploymentFeeds: Sendable {
    let store: Store
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger
    private let feeds = Mutex<[Int64: Feed]>([:])

    public init(store: Store, interval: Duration = .milliseconds(100), clock: ServiceClock = .continuous,
                logger: Logger = Logger(label: "slipway")) {
        self.store = store
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    /// Feeds being read now (one per followed deployment).
    public var count: Int { feeds.withLock { $0.count } }

    /// Follows deployment `id` to its end: `receive` gets everything recorded so far, then
    /// what follows, in batches in order; `done` comes last. With `quietAfter`, a `quiet`
    /// batch comes after that long without anything new (a stream's keep-alive).
    public func follow(_ id: Int64, quietAfter: Duration? = nil, _ receive: (FeedBatch) async throws -> Void) async throws {
        let feed = join(id)
        defer { leave(id, feed) }
        var index = 0
        while true {
            let deadline = quietAfter.map { clock.elapsed() + $0 }
            let next = await feed.next(after: index, deadline: deadline)
            index += next.batches.count
            if !next.batches.isEmpty {
                for batch in next.batches { try await receive(batch) }
            } else if let failure = next.failure {
                throw failure
            } else if next.finished {
                return
            } else if let state = next.state, quietAfter != nil {
                try await receive(FeedBatch([.quiet(state)]))
            }
            try Task.checkCancellation()
        }
    }

    private func join(_ id: Int64) -> Feed {
        feeds.withLock { feeds in
            if let feed = feeds[id], feed.join() { return feed }
            let feed = Feed()
            _ = feed.join()
            feeds[id] = feed
            let follower = DeploymentFollower(store: store, deploymentID: id, interval: interval, clock: clock)
            feed.start { [clock, logger] in
                do {
                    try await follower.run(follow: true, observe: { feed.observe($0, now: clock.elapsed()) }) { feed.append($0) }
                    feed.finish(nil)
                } catch is CancellationError {
                    feed.finish(CancellationError())
                } catch {
                    logger.warning("a deployment's feed stopped", metadata: ["deployment.id": "\(id)", "error": "\(error)"])
                    feed.finish(error)
                }
            }
            return feed
        }
    }

    private func leave(_ id: Int64, _ feed: Feed) {
        feeds.withLock { feeds in
            guard feed.leave() else { return }
            if feeds[id] === feed { feeds[id] = nil }
        }
    }
}

/// What one look at a deployment found (never empty), with its text as server-sent events,
/// rendered once however many follow.
public struct FeedBatch: Sendable {
    public let items: [DeploymentFollower.Item]
    public let text: String

    public init(_ items: [DeploymentFollower.Item]) {
        self.items = items
        text = ServerSentEvents.text(items)
    }
}

/// What one deployment's reader found so far, and the followers waiting for more.
final class Feed: Sendable {
    struct Next {
        var batches: [FeedBatch]
        var finished: Bool
        var failure: (any Error)?
        var state: DeploymentState?
    }

    private struct Waiter {
        var after: Int
        var deadline: Duration?
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        /// Batches in the order the reader found them; a follower's place is an index here.
        var batches: [FeedBatch] = []
        var finished = false
        var failure: (any Error)?
        var state: DeploymentState?
        var followers = 0
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
        var reader: Task<Void, Never>?
    }

    private let state = Mutex(State())

    /// One more follower; false when the feed already ended in failure (the caller starts a new one).
    func join() -> Bool {
        state.withLock { state in
            guard state.failure == nil else { return false }
            state.followers += 1
            return true
        }
    }

    /// One follower less; true when it was the last (the reader is stopped).
    func leave() -> Bool {
        let reader = state.withLock { state -> Task<Void, Never>? in
            state.followers -= 1
            return state.followers == 0 ? state.reader : nil
        }
        reader?.cancel()
        return reader != nil
    }

    func start(_ read: @escaping @Sendable () async -> Void) {
        let task = Task(priority: .high) { await read() }
        state.withLock { $0.reader = task }
    }

    func append(_ items: [DeploymentFollower.Item]) {
        let batch = FeedBatch(items)
        wake { state in
            state.batches.append(batch)
            return state.batches.count
        }
    }

    /// Each look's state; followers whose keep-alive is due are woken with it.
    func observe(_ deploymentState: DeploymentState, now: Duration) {
        let due = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.state = deploymentState
            let due = state.waiters.filter { $0.value.deadline.map { now >= $0 } == true }
            for key in due.keys { state.waiters[key] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    func finish(_ failure: (any Error)?) {
        wake { state in
            state.finished = true
            state.failure = failure
            return Int.max
        }
    }

    /// Changes the state, then resumes every follower that now has something to take.
    private func wake(_ change: (inout State) -> Int) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let count = change(&state)
            let woken = state.waiters.filter { count == .max || $0.value.after < count }
            for key in woken.keys { state.waiters[key] = nil }
            return woken.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Batches after `index`, waiting for some; empty when the feed ended, the deadline passed
    /// (checked at the reader's looks) or the follower was cancelled.
    func next(after index: Int, deadline: Duration?) async -> Next {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.batches.count > index || state.finished || Task.isCancelled { return true }
                    state.waiters[id] = Waiter(after: index, deadline: deadline, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
        return state.withLock { state in
            Next(batches: index < state.batches.count ? Array(state.batches[index...]) : [], finished: state.finished,
                 failure: state.failure, state: state.state)
        }
    }
}

/// A deployment to follow, from a shared feed where the process has them (a server), else
/// with a reader of its own (the CLI).
public struct DeploymentWatch: Sendable {
    let id: Int64
    let feeds: DeploymentFeeds?
    let follower: DeploymentFollower

    public func run(quietAfter: Duration? = nil, _ receive: (FeedBatch) async throws -> Void) async throws {
        if let feeds {
            try await feeds.follow(id, quietAfter: quietAfter, receive)
        } else {
            try await follower.run(follow: true, quietAfter: quietAfter) { try await receive(FeedBatch($0)) }
        }
    }
}
