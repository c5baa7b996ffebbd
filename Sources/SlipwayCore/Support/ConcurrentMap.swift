/// `transform` over every element, at most `limit` at a time; results in the elements' order.
/// For I/O that goes out side by side without flooding the other end (a registry, ECS).
extension Array where Element: Sendable {
    public func concurrentMap<T: Sendable>(limit: Int, _ transform: @escaping @Sendable (Element) async throws -> T) async rethrows -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var next = 0
            func add() {
                guard next < count else { return }
                let (index, element) = (next, self[next])
                next += 1
                group.addTask { (index, try await transform(element)) }
            }
            for _ in 0..<Swift.max(1, limit) { add() }
            var out = [T?](repeating: nil, count: count)
            for try await (index, value) in group {
                out[index] = value
                add()
            }
            return out.map { $0! }
        }
    }
}
