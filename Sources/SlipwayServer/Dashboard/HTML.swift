import Foundation
import SlipwayCore

/// Server-rendered pages: every value from outside goes through `escape`, so a commit message
/// or a log line with `<script>` comes out as text.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in Terminal.printable(text, newlines: true) {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func short(_ sha: String?) -> String { sha.map { String($0.prefix(12)) } ?? "–" }

    static func time(_ date: Date?) -> String {
        guard let date else { return "–" }
        let text = ISO8601.format(date)
        return "<time datetime=\"\(escape(text))\">\(escape(String(text.prefix(19)).replacingOccurrences(of: "T", with: " ")))</time>"
    }

    /// The frame of every page: the same header, the signed-in name and role, and sign-out.
    static func page(_ title: String, caller: APICaller?, csrf: String?, body: String) -> String {
        let who = caller.map { c in
            """
            <form method="post" action="/logout" class="who"><span>\(escape(c.name)) (\(escape(c.role.rawValue)))</span>
            <input type="hidden" name="csrf" value="\(escape(csrf ?? ""))"><button type="submit">Sign out</button></form>
            """
        } ?? ""
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · Slipway</title>
            <link rel="stylesheet" href="/ui/style.css">
            </head>
            <body>
            <header><a href="/" class="brand">Slipway</a><nav aria-label="Main"><a href="/">Services</a> <a href="/plan">Plan</a></nav>\(who)</header>
            <main id="main">
            \(body)
            </main>
            <script src="/ui/app.js" defer></script>
            </body>
            </html>
            """
    }

    static func stateBadge(_ state: String) -> String {
        "<span class=\"state state-\(escape(state))\">\(escape(state.replacingOccurrences(of: "_", with: " ")))</span>"
    }
}
