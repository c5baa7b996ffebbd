import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore

/// Refreshes the policy set at an interval and at once when a push to the policies
/// repository arrives. Any replica may refresh: applying is serialized in the database
/// and a revision already recorded is skipped.
public struct PolicyWatcher: Service {
    let sync: PolicySync
    let interval: Duration
    let wake: WakeSignal
    let logger: Logger

    public init(sync: PolicySync, interval: Duration, wake: WakeSignal, logger: Logger) {
        self.sync = sync
        self.interval = interval
        self.wake = wake
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let generation = wake.generation
                do {
                    _ = try await sync.refresh()
                } catch {
                    if Task.isCancelled { break }
                    logger.error("policies not refreshed; the set in force stays, trying again", metadata: [
                        "policies.source": "\(sync.spec)", "error": "\(error)",
                    ])
                }
                await wake.wait(since: generation, timeout: interval)
            }
        }
    }

    /// Whether a webhook event is a push to the branch the policies come from.
    public static func concerns(_ event: NormalizedEvent, spec: PolicySourceSpec) -> Bool {
        guard case .git(let repo, let branch, _) = spec, event.kind == .push, event.branch == branch,
              let key = try? RepoURL(repo).key else { return false }
        return [event.repository?.cloneURL].compactMap { $0 }.contains { (try? RepoURL($0).key) == key }
    }
}
