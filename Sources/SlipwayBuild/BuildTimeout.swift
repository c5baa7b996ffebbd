import SlipwayCore

/// A build against `build.timeout`: `body`'s result, or nil when the timeout came first
/// (then `body` is cancelled, which ends the request or the process, and so the build).
enum BuildTimeout {
    static func race<T: Sendable>(_ timeout: TimeSpan, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(timeout.milliseconds))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    static func failure(_ timeout: TimeSpan) -> BuildFailure {
        BuildFailure(stage: .build, message: "the build ran longer than build.timeout (\(timeout)); raise it in the policy or make the build faster",
                     transient: false)
    }
}
