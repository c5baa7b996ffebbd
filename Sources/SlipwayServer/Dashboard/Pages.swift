import Foundation
import SlipwayApp
import SlipwayCore
import SlipwayStore

/// The dashboard's pages, rendered from what the use cases return. Buttons that change things
/// show only for roles that may use them (the routes refuse the others anyway).
enum Pages {
    static func login(csrf: String, error: String?) -> String {
        HTML.page("Sign in", caller: nil, csrf: nil, body: """
            <h1>Sign in</h1>
            \(error.map { "<p class=\"error\" role=\"alert\">\(HTML.escape($0))</p>" } ?? "")
            <form method="post" action="/login" class="login">
            <label for="token">API token</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required placeholder="slw_…">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <button type="submit">Sign in</button>
            </form>
            <p class="hint">An admin makes tokens with <code>slipway tokens create NAME --role viewer</code>.</p>
            """)
    }

    static func services(_ statuses: [ServiceStatus], drift: [String: String], caller: APICaller, csrf: String) -> String {
        let rows = statuses.map { s -> String in
            let last = s.deployments.first
            let previews = s.previews.filter { $0.state != .tornDown }.map { p in
                let link = p.url.flatMap { $0.hasPrefix("http") ? "<a href=\"\(HTML.escape($0))\">#\(p.number)</a>" : nil } ?? "#\(p.number)"
                return "\(link) \(HTML.stateBadge(p.state.rawValue))"
            }.joined(separator: " ")
            return """
                <tr><th scope="row"><a href="/services/\(HTML.escape(s.service))">\(HTML.escape(s.service))</a></th>
                <td>\(HTML.stateBadge(s.state.rawValue))</td><td><code>\(HTML.short(s.liveSHA))</code></td>
                <td>\(last.map { "<a href=\"/deployments/\($0.id)\">#\($0.id)</a> \(HTML.stateBadge($0.state.rawValue))" } ?? "–")</td>
                <td>\(HTML.escape(drift[s.service] ?? "–"))</td><td>\(previews.isEmpty ? "–" : previews)</td></tr>
                """
        }.joined(separator: "\n")
        return HTML.page("Services", caller: caller, csrf: csrf, body: """
            <h1>Services</h1>
            <table class="services"><caption class="visually-hidden">Services</caption>
            <thead><tr><th scope="col">Service</th><th scope="col">State</th><th scope="col">Live commit</th><th scope="col">Last deployment</th><th scope="col">Drift</th><th scope="col">Previews</th></tr></thead>
            <tbody>\(rows.isEmpty ? "<tr><td colspan=\"6\">No services: add a policy file.</td></tr>" : rows)</tbody>
            </table>
            """)
    }

    static func timeline(_ stages: [DeploymentTimeline.Stage]) -> String {
        "<ol class=\"timeline\">" + stages.map { stage in
            let took = stage.seconds.map { String(format: " <span class=\"took\">+%.1f s</span>", $0) } ?? ""
            return "<li>\(HTML.stateBadge(stage.stage)) \(HTML.time(stage.at))\(took)</li>"
        }.joined() + "</ol>"
    }

    static func service(_ status: ServiceStatus, timelines: [Int64: [DeploymentTimeline.Stage]], caller: APICaller, csrf: String) -> String {
        let canDeploy = caller.role.may(.deploy), canRollback = caller.role.may(.rollback), canCancel = caller.role.may(.cancel)
        let name = HTML.escape(status.service)
        let deployForm = canDeploy ? """
            <form method="post" action="/services/\(name)/deploy" class="inline">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <label for="sha">Commit</label> <input id="sha" name="sha" pattern="[0-9a-fA-F]{4,64}" placeholder="newest on the branch">
            <button type="submit">Deploy</button></form>
            """ : ""
        let rollbackForm = canRollback && status.liveDeploymentID != nil ? """
            <form method="post" action="/services/\(name)/rollback" class="inline">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))"><button type="submit" id="rollback">Roll back</button></form>
            """ : ""
        let rows = status.deployments.map { d -> String in
            let cancel = canCancel && !d.state.isFinal ? """
                <form method="post" action="/deployments/\(d.id)/cancel" class="inline"><input type="hidden" name="csrf" value="\(HTML.escape(csrf))"><button type="submit">Cancel</button></form>
                """ : ""
            return """
                <li class="deployment"><h3><a href="/deployments/\(d.id)">#\(d.id)</a> \(HTML.stateBadge(d.state.rawValue)) <code>\(HTML.short(d.sha ?? d.image))</code>
                <small>\(HTML.escape(d.trigger.rawValue))\(d.by.map { " by \(HTML.escape($0))" } ?? "")</small> \(cancel)</h3>
                \(timelines[d.id].map(timeline) ?? "")
                \(d.reason.map { "<pre class=\"reason\">\(HTML.escape($0))</pre>" } ?? "")</li>
                """
        }.joined(separator: "\n")
        return HTML.page(status.service, caller: caller, csrf: csrf, body: """
            <h1>\(name) \(HTML.stateBadge(status.state.rawValue))</h1>
            <p>Live: <code>\(HTML.short(status.liveSHA))</code> \(deployForm) \(rollbackForm)</p>
            <h2>Deployments</h2>
            <ol class="history" reversed>\(rows.isEmpty ? "<li>Nothing deployed yet.</li>" : rows)</ol>
            """)
    }

    static func deployment(_ view: Operations.DeploymentView, caller: APICaller, csrf: String) -> String {
        let d = view.summary.deployment
        let steps = view.events.filter { $0.kind == "step" }.map { e in
            "<li>\(HTML.escape(e.message))</li>"
        }.joined()
        let lines = view.lines.map { HTML.escape($0.line) }.joined(separator: "\n")
        let cancel = caller.role.may(.cancel) && !d.state.isFinal ? """
            <form method="post" action="/deployments/\(d.id)/cancel" class="inline"><input type="hidden" name="csrf" value="\(HTML.escape(csrf))"><button type="submit">Cancel</button></form>
            """ : ""
        return HTML.page("Deployment \(d.id)", caller: caller, csrf: csrf, body: """
            <h1>Deployment #\(d.id) of <a href="/services/\(HTML.escape(view.summary.service))">\(HTML.escape(view.summary.service))</a></h1>
            <p><span id="state" class="state state-\(HTML.escape(d.state.rawValue))" data-final="\(d.state.isFinal)" role="status">\(HTML.escape(d.state.rawValue.replacingOccurrences(of: "_", with: " ")))</span>
            <code>\(HTML.short(d.sha ?? d.image))</code> \(HTML.escape(d.trigger.rawValue))\(d.by.map { " by \(HTML.escape($0))" } ?? "") \(cancel)</p>
            \(d.reason.map { "<pre class=\"reason\">\(HTML.escape($0))</pre>" } ?? "")
            <h2>Timeline</h2>\(timeline(view.timeline))
            <h2>Steps</h2><ol id="steps" data-shown="\(view.events.filter { $0.kind == "step" }.count)">\(steps)</ol>
            <h2>Log</h2>
            <pre id="log" aria-live="polite" data-stream="/ui/deployments/\(d.id)/stream" data-lines="\(view.lines.count)">\(lines)</pre>
            """)
    }

    static func plan(_ plans: [ServicePlan], caller: APICaller, csrf: String) -> String {
        let rows = plans.map { p in
            """
            <tr><th scope="row"><a href="/services/\(HTML.escape(p.service))">\(HTML.escape(p.service))</a></th>
            <td>\(HTML.escape(p.status.rawValue))</td><td>\(HTML.escape(p.reason ?? "–"))</td>
            <td>\(p.actions.isEmpty ? "nothing" : HTML.escape(p.actions.map { "\($0)" }.joined(separator: "; ")))</td></tr>
            """
        }.joined(separator: "\n")
        return HTML.page("Plan", caller: caller, csrf: csrf, body: """
            <h1>Plan</h1><p>What the reconciler would change, and why.</p>
            <table><thead><tr><th scope="col">Service</th><th scope="col">Status</th><th scope="col">Why</th><th scope="col">Actions</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            """)
    }

    static func error(_ message: String, hint: String, caller: APICaller?, csrf: String?) -> String {
        HTML.page("Error", caller: caller, csrf: csrf, body: "<h1>Not done</h1><p class=\"error\" role=\"alert\">\(HTML.escape(message))</p><p>\(HTML.escape(hint))</p><p><a href=\"/\">Back to the services</a></p>")
    }
}
