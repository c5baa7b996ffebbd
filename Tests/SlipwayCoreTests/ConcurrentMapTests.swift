import Foundation
import SlipwayCore
import Synchronization
import Testing

@Suite struct ConcurrentMapTests {
    final class Gauge: Sendable {
        let state = Mutex((now: 0, most: 0))
        func enter() { state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) } }
        func leave() { state.withLock { $0.now -= 1 } }
        var most: Int { state.withLock { $0.most } }
    }

    @Test func keepsOrderAndTheLimit() async throws {
        let gauge = Gauge()
        let out = try await Array(0..<40).concurrentMap(limit: 4) { n -> Int in
            gauge.enter()
            try await Task.sleep(for: .milliseconds(Int64((40 - n) % 7)))
            gauge.leave()
            return n * n
        }
        #expect(out == (0..<40).map { $0 * $0 })
        #expect(gauge.most <= 4 && gauge.most >= 2)
        #expect(await [Int]().concurrentMap(limit: 3) { $0 }.isEmpty)
    }
}
