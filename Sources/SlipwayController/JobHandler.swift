import Logging
import SlipwayCore
import SlipwayStore

/// Does the work of one job kind. A handler records the outcome of the deployment it
/// works on itself (failed, rolled back, …) and returns normally; it throws only when
/// trying again later may help (the database or the engine was unreachable, say).
public protocol JobHandler: Sendable {
    var kind: JobKind { get }
    func run(_ job: ClaimedJob, logger: Logger) async throws
}

/// An error that retrying cannot fix: the job goes straight to `dead`.
public struct PermanentJobError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An error after which the job is tried again no sooner than `after` (a rate limit's reset).
public struct RetryLater: Error, CustomStringConvertible {
    public var message: String
    public var after: TimeSpan?
    public init(_ message: String, after: TimeSpan?) {
        self.message = message
        self.after = after
    }
    public var description: String { message }
}
