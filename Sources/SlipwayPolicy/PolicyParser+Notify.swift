import Foundation
import SlipwayCore
import Yams

extension PolicyParser {
    static let notifyKeys = ["slack", "webhook", "secret", "events"]

    /// `notify:` — a list of channels, each `slack: env:…` or `webhook: URL` with `secret:`, and `events:`.
    func parseNotify(_ node: Node, holder: Node?, reader: inout NodeReader) -> [NotifyChannel]? {
        guard case .sequence(let items) = node else {
            if NodeReader.isNull(node) {
                reader.report(holder ?? node, "`notify` is empty; write a list of channels, or `notify: []` to tell no one")
            } else {
                reader.report(node, "`notify` must be a list of channels, as in `- slack: env:SLIPWAY_SECRET_SLACK_URL`")
            }
            return nil
        }
        let before = reader.diagnostics.count
        var channels: [NotifyChannel] = []
        for (index, item) in items.enumerated() {
            guard let channel = parseChannel(item, at: "notify[\(index)]", reader: &reader) else { continue }
            if let same = channels.firstIndex(where: { $0.kind == channel.kind && $0.url == channel.url }) {
                reader.report(item, "`notify[\(index)]` sends to the same place as `notify[\(same)]`: every message would arrive twice; list its events once")
            }
            channels.append(channel)
        }
        return reader.diagnostics.count == before ? channels : nil
    }

    private func parseChannel(_ node: Node, at path: String, reader: inout NodeReader) -> NotifyChannel? {
        guard let map = reader.mapping(node, at: path, holder: nil, allowed: Self.notifyKeys) else { return nil }
        let before = reader.diagnostics.count
        let kind: NotifyChannel.Kind
        switch (map["slack"], map["webhook"]) {
        case (nil, nil):
            reader.report(node, "`\(path)` names no channel; write `slack: env:NAME` (a Slack incoming webhook) or `webhook: https://…` with `secret:`")
            return nil
        case (.some, .some):
            reader.report(map.keys[map.later("slack", "webhook")], "`\(path)` names both `slack` and `webhook`; one channel per entry: make them two entries")
            return nil
        case (.some, nil): kind = .slack
        case (nil, .some): kind = .webhook
        }
        var url: NotifyURL?
        var secret: SecretReference?
        switch kind {
        case .slack:
            let n = map["slack"]!
            if let text = reader.nonEmptyString(n, at: "\(path).slack") {
                if text.lowercased().contains("://") || text.lowercased().contains("hooks.slack.com") {
                    reader.report(n, "`\(path).slack` is a Slack webhook URL written out, and Slack treats it as a secret: put it in a variable such as SLIPWAY_SECRET_SLACK_URL and write `slack: env:SLIPWAY_SECRET_SLACK_URL`")
                } else if let reference = notifySecret(n, text: text, at: "\(path).slack", reader: &reader) {
                    url = .reference(reference)
                }
            }
            if let key = map.keys["secret"] {
                reader.report(key, "`\(path).secret` is for `webhook` channels; a Slack webhook's URL is its secret: remove `secret`")
            }
        case .webhook:
            let n = map["webhook"]!
            if let text = reader.nonEmptyString(n, at: "\(path).webhook") {
                if text.hasPrefix("env:") || text.hasPrefix("file:") || text.hasPrefix("arn:") {
                    url = notifySecret(n, text: text, at: "\(path).webhook", reader: &reader).map(NotifyURL.reference)
                } else if let problem = Self.webhookURLProblem(text) {
                    reader.report(n, "`\(path).webhook` \(problem)")
                } else {
                    url = .literal(text)
                }
            }
            if let n = reader.required(map, "secret", hint: ": the key Slipway signs each body with (X-Slipway-Signature), as in `secret: env:SLIPWAY_SECRET_HOOK`"),
               let text = reader.nonEmptyString(n, at: "\(path).secret") {
                secret = notifySecret(n, text: text, at: "\(path).secret", reader: &reader)
            }
        }
        var events = NotifyEvent.defaults
        if let n = map["events"], let list = reader.list(n, at: "\(path).events", example: "[failed, rolled_back]") {
            events = []
            let names = NotifyEvent.allCases.map(\.rawValue)
            for entry in list {
                if let event = NotifyEvent(rawValue: entry.text) {
                    if !events.contains(event) { events.append(event) }
                } else if let guess = EditDistance.suggestion(for: entry.text, among: names) {
                    reader.report(entry.node, "`\(path).events` has `\(Terminal.printable(entry.text, limit: 40))`; did you mean `\(guess)`?")
                } else {
                    reader.report(entry.node, "`\(path).events` has `\(Terminal.printable(entry.text, limit: 40))`; events are \(names.joined(separator: ", "))")
                }
            }
            if list.isEmpty { reader.report(n, "`\(path).events` is empty; name at least one of \(names.joined(separator: ", ")), or remove the channel") }
        }
        guard reader.diagnostics.count == before, let url else { return nil }
        return NotifyChannel(kind: kind, url: url, secret: secret, events: events)
    }

    /// Notifications read `env:` and `file:` references (sent from the server, per message). A
    /// value that is no reference at all may be the secret itself: it is never quoted back.
    private func notifySecret(_ node: Node, text: String, at path: String, reader: inout NodeReader) -> SecretReference? {
        guard text.hasPrefix("env:") || text.hasPrefix("file:") || text.hasPrefix("arn:") else {
            reader.report(node, "`\(path)` is not a secret reference (its value is not shown: it may be the secret); write env:NAME or file:/path, where the server keeps it")
            return nil
        }
        guard let reference = secretReference(node, at: path, reader: &reader) else { return nil }
        if case .aws = reference {
            reader.report(node, "`\(path)`: notifications read `env:` or `file:` references, not AWS ARNs; mount the secret as a file or a variable")
            return nil
        }
        return reference
    }

    static func webhookURLProblem(_ text: String) -> String? {
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), let url = URL(string: text), url.scheme != nil,
              let host = url.host, !host.isEmpty else {
            return "`\(Terminal.printable(text, limit: 80))` is not an http(s) URL, as in https://hooks.example.com/slipway"
        }
        if url.user != nil || url.password != nil {
            return "has a user or password in it; keep the whole URL in a secret instead (`webhook: env:SLIPWAY_SECRET_HOOK_URL`)"
        }
        return nil
    }

    /// SLIPWAY_NOTIFY: the server's default channels, in the shape of a policy's `notify:` (YAML,
    /// block or flow). Diagnostics point into the setting (`SLIPWAY_NOTIFY:1:3`).
    public func parseNotifySetting(_ yaml: String) -> (channels: [NotifyChannel], diagnostics: [PolicyDiagnostic]) {
        var reader = NodeReader(file: "SLIPWAY_NOTIFY")
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                reader.report(line: 1, column: 1, "`notify` is empty; write a list of channels")
                return ([], reader.diagnostics)
            }
            if let channels = parseNotify(node, holder: nil, reader: &reader) {
                return (channels, reader.diagnostics)
            }
        } catch let error as YamlError {
            let (line, column, problem) = Self.locate(error)
            reader.report(line: line, column: column, problem)
        } catch {
            reader.report(line: 1, column: 1, "YAML syntax: \(error)")
        }
        return ([], reader.diagnostics)
    }
}
