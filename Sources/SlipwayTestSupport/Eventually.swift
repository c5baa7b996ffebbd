/// Waits for what a test checks, not for a fixed time: asks `condition` every `every`
/// until it holds (true) or `timeout` passes (false). The one polling helper of the suites.
public func eventually(timeout: Duration = .seconds(20), every: Duration = .milliseconds(50),
                       _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: every)
    }
    return try await condition()
}

import Testing

/// `eventually`, recording an issue when the condition never held.
public func waitFor(_ condition: () async throws -> Bool, timeout: Duration = .seconds(20),
                    sourceLocation: SourceLocation = #_sourceLocation) async rethrows {
    if try await !eventually(timeout: timeout, condition) {
        Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
    }
}
