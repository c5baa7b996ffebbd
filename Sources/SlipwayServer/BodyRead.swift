import NIOCore
import Synchronization

/// Reads a request body into one buffer, each piece first offered to `accept` (which may stop
/// the read: too large, over budget), within a deadline: a sender that trickles or stalls
/// is cut off instead of holding the request open.
enum BodyRead {
    enum Stop: Error, Sendable { case tooLarge, busy, timedOut }

    enum Outcome: Sendable {
        case read(ByteBuffer)
        case stopped(Stop)
        case failed(any Error)
    }

    /// - Parameter declared: the body's declared length: the buffer is sized for it once (its pages
    ///   are only resident as they are written), so it never grows by doubling nor is copied.
    /// - Parameter deadline: nil reads in the caller's task, with no timer (a small body: what it
    ///   can hold is small, and most requests are these).
    static func run<Body: AsyncSequence & Sendable>(
        _ body: Body, declared: Int?, within deadline: Duration?,
        accept: @escaping @Sendable (_ chunk: ByteBuffer, _ sizeSoFar: Int) throws(Stop) -> Void
    ) async -> Outcome where Body.Element == ByteBuffer {
        guard let deadline else { return await read(body, declared: declared, accept: accept) }
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask { await read(body, declared: declared, accept: accept) }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return .stopped(.timedOut)
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }

    static func read<Body: AsyncSequence & Sendable>(
        _ body: Body, declared: Int?, accept: @escaping @Sendable (_ chunk: ByteBuffer, _ sizeSoFar: Int) throws(Stop) -> Void
    ) async -> Outcome where Body.Element == ByteBuffer {
        // Without a declared length, pieces are kept as they came and joined once at the end: a
        // buffer grown by doubling would hold up to twice what the budget counted.
        var buffer = ByteBuffer()
        var pieces: [ByteBuffer] = []
        var size = 0
        if let declared { buffer.reserveCapacity(declared) }
        do {
            for try await chunk in body {
                try accept(chunk, size)
                size += chunk.readableBytes
                if declared != nil, size <= buffer.capacity { buffer.writeImmutableBuffer(chunk) } else { pieces.append(chunk) }
            }
            if !pieces.isEmpty {
                var joined = ByteBuffer()
                joined.reserveCapacity(size)
                joined.writeImmutableBuffer(buffer)
                for piece in pieces { joined.writeImmutableBuffer(piece) }
                buffer = joined
            }
            return .read(buffer)
        } catch let stop as Stop {
            return .stopped(stop)
        } catch {
            return .failed(error)
        }
    }
}

/// Budget bytes a request holds, given back together when it is answered.
final class Held: Sendable {
    let budget: BodyBudget
    private let bytes = Mutex(0)

    init(_ budget: BodyBudget) { self.budget = budget }

    /// Takes `count` more from the budget; false when it does not fit.
    func take(_ count: Int) -> Bool {
        guard budget.reserve(count) else { return false }
        bytes.withLock { $0 += count }
        return true
    }

    func releaseAll() {
        let count = bytes.withLock { count in defer { count = 0 }; return count }
        budget.release(count)
    }
}

/// A gate fed from the task that reads the body.
final class Fed: Sendable {
    private let gate: Mutex<WebhookIntake.Gate>
    init(_ gate: WebhookIntake.Gate) { self.gate = Mutex(gate) }
    func update(_ chunk: ByteBuffer) { gate.withLock { $0.update(chunk) } }
    var value: WebhookIntake.Gate { gate.withLock { $0 } }
}
