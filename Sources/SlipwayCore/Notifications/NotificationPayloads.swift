import Foundation

/// The bodies notifications carry. Pure: the handler sends what these return.
public enum NotificationPayloads {
    // MARK: - Generic webhook

    /// The JSON a `webhook:` channel receives (documented in README, "Notifications"). Absent
    /// facts are `null`, never missing, so receivers can rely on every key.
    public static func webhook(_ facts: NotificationFacts, delivery: String) throws -> [UInt8] {
        try CompactJSON.encode(WebhookBody(facts: facts, delivery: delivery))
    }

    struct WebhookBody: Encodable {
        let facts: NotificationFacts
        let delivery: String

        enum Keys: String, CodingKey { case delivery, event, service, environment, at, headline, reason, deployment, commit, preview }
        enum DeploymentKeys: String, CodingKey { case id, state, by, url }
        enum CommitKeys: String, CodingKey { case sha, branch, author, subject, url }
        enum PreviewKeys: String, CodingKey { case number, url }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(delivery, forKey: .delivery)
            try c.encode(facts.event.rawValue, forKey: .event)
            try c.encode(facts.service, forKey: .service)
            try c.encode(facts.environment, forKey: .environment)
            try c.encode(ISO8601.format(facts.at), forKey: .at)
            try c.encode(facts.headline, forKey: .headline)
            // Why it happened: a failure's or rollback's reason (the exit code), a teardown's cause.
            try c.encode(facts.reason, forKey: .reason)
            if let id = facts.deploymentID {
                var d = c.nestedContainer(keyedBy: DeploymentKeys.self, forKey: .deployment)
                try d.encode(id, forKey: .id)
                try d.encode(facts.state, forKey: .state)
                try d.encode(facts.by, forKey: .by)
                try d.encode(facts.deploymentURL, forKey: .url)
            } else {
                try c.encodeNil(forKey: .deployment)
            }
            if let sha = facts.sha {
                var m = c.nestedContainer(keyedBy: CommitKeys.self, forKey: .commit)
                try m.encode(sha, forKey: .sha)
                try m.encode(facts.branch, forKey: .branch)
                try m.encode(facts.author, forKey: .author)
                try m.encode(facts.subject, forKey: .subject)
                try m.encode(facts.commitURL, forKey: .url)
            } else {
                try c.encodeNil(forKey: .commit)
            }
            if let number = facts.pullRequest {
                var p = c.nestedContainer(keyedBy: PreviewKeys.self, forKey: .preview)
                try p.encode(number, forKey: .number)
                try p.encode(facts.previewURL, forKey: .url)
            } else {
                try c.encodeNil(forKey: .preview)
            }
        }
    }

    // MARK: - Slack (Block Kit)

    /// A Slack incoming-webhook message: a header, the facts as fields, the reason in a code
    /// block, and buttons to the deployment, the preview and the commit. Text from commits and
    /// build output is escaped (`&`, `<`, `>`) and cut to Block Kit's limits.
    public static func slack(_ facts: NotificationFacts) throws -> [UInt8] {
        var blocks: [Block] = [.header("\(emoji(facts.event)) \(facts.headline)")]
        var fields = ["*Service*\n\(escape(facts.service))", "*Environment*\n\(facts.pullRequest.map { "pull request #\($0)" } ?? escape(facts.environment))"]
        if let sha = facts.sha {
            fields.append("*Commit*\n\(link(facts.commitURL, String(sha.prefix(12))))\(facts.branch.map { " on `\(escape($0))`" } ?? "")")
        }
        if let author = facts.author { fields.append("*Author*\n\(escape(cut(author, 200)))") }
        if let state = facts.state { fields.append("*State*\n\(escape(state.replacingOccurrences(of: "_", with: " ")))") }
        if let by = facts.by { fields.append("*Asked by*\n\(escape(cut(by, 200)))") }
        blocks.append(.fields(fields))
        if let subject = facts.subject, !subject.isEmpty {
            blocks.append(.section("> \(escape(cut(subject, 500)))"))
        }
        if let reason = facts.reason, !reason.isEmpty {
            // The reason's own backticks would end the code block early.
            let safe = escaped(reason.replacingOccurrences(of: "```", with: "`\u{200B}``"), limit: 2_900)
            blocks.append(.section("*Reason*\n```\(safe)```"))
        }
        var buttons: [(String, String)] = []
        if let url = facts.deploymentURL, linkable(url) { buttons.append(("Deployment", url)) }
        if let url = facts.previewURL, linkable(url), facts.event != .previewTornDown { buttons.append(("Preview", url)) }
        if let url = facts.commitURL, linkable(url) { buttons.append(("Commit", url)) }
        if !buttons.isEmpty { blocks.append(.actions(buttons)) }
        return try CompactJSON.encode(SlackMessage(text: fallback(facts), blocks: blocks))
    }

    /// The notification's plain text (shown where blocks are not: phone alerts, search).
    static func fallback(_ facts: NotificationFacts) -> String {
        var text = "\(emoji(facts.event)) \(facts.headline)"
        if let sha = facts.sha { text += " (\(sha.prefix(12))\(facts.author.map { " by \(cut($0, 100))" } ?? ""))" }
        if let reason = facts.reason, let first = reason.split(separator: "\n").first { text += ": \(cut(String(first), 300))" }
        return escape(text)
    }

    static func emoji(_ event: NotifyEvent) -> String {
        switch event {
        case .live: "✅"
        case .failed: "❌"
        case .rolledBack: "⏪"
        case .previewReady: "🔍"
        case .previewTornDown: "🧹"
        }
    }

    /// Slack's mrkdwn control characters.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// `text` escaped, cut to `limit` characters after escaping, never inside an entity: the
    /// code block's closing fence after it always fits the section's 3,000.
    static func escaped(_ text: String, limit: Int) -> String {
        var out = ""
        var length = 0
        for character in text {
            let piece = character == "&" ? "&amp;" : character == "<" ? "&lt;" : character == ">" ? "&gt;" : String(character)
            if length + piece.count > limit - 1 { return out + "…" }
            out += piece
            length += piece.count
        }
        return out
    }

    static func cut(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// A URL Slack's `<url|text>` and buttons can carry as is.
    static func linkable(_ url: String) -> Bool {
        (url.hasPrefix("https://") || url.hasPrefix("http://")) && url.count <= 3_000
            && !url.contains(where: { $0 == "|" || $0 == "<" || $0 == ">" || $0 == " " || $0.isNewline })
    }

    static func link(_ url: String?, _ text: String) -> String {
        guard let url, linkable(url) else { return "`\(escape(text))`" }
        return "<\(url)|\(escape(text))>"
    }

    enum Block: Encodable {
        case header(String)
        case section(String)
        case fields([String])
        case actions([(String, String)])

        enum Keys: String, CodingKey { case type, text, fields, elements, url, emoji }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            switch self {
            case .header(let text):
                try c.encode("header", forKey: .type)
                try c.encode(Text(type: "plain_text", text: NotificationPayloads.cut(text, 150)), forKey: .text)
            case .section(let text):
                try c.encode("section", forKey: .type)
                try c.encode(Text(type: "mrkdwn", text: NotificationPayloads.cut(text, 3_000)), forKey: .text)
            case .fields(let fields):
                try c.encode("section", forKey: .type)
                try c.encode(fields.prefix(10).map { Text(type: "mrkdwn", text: NotificationPayloads.cut($0, 2_000)) }, forKey: .fields)
            case .actions(let buttons):
                try c.encode("actions", forKey: .type)
                try c.encode(buttons.map { Button(text: Text(type: "plain_text", text: $0.0), url: $0.1) }, forKey: .elements)
            }
        }
    }

    struct Text: Encodable {
        let type: String
        let text: String
    }

    struct Button: Encodable {
        let type = "button"
        let text: Text
        let url: String
    }

    struct SlackMessage: Encodable {
        let text: String
        let blocks: [Block]
    }
}
