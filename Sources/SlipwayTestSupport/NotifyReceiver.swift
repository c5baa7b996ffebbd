import Foundation

/// A private instance of deploy/local/notify-receiver.py: a Slack-shaped receiver (`/slack/…`,
/// checking Block Kit's limits) and a generic one (`/hook`, checking the HMAC signature).
public final class NotifyReceiver: @unchecked Sendable {
    public let url: String
    let process: Process

    public init(secret: String, failFirst: Int = 0) throws {
        (process, url) = try LocalServer.start(script: "notify-receiver.py", arguments: ["--secret", secret, "--fail-first", "\(failFirst)"],
                                               environment: ["PATH": "/usr/bin:/bin"], health: "_receiver/health",
                                               what: "the notification receiver")
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning { process.terminate() }
    }

    /// Every request it saw, in order.
    public func requests() throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: try SourceHostStandIn.get("\(url)/_receiver/requests")) as? [[String: Any]] ?? []
    }
}
