import Foundation

/// The one comment Slipway keeps on a pull request: its previews with state, commit, link
/// and the reason of any failure, or, once they are all gone, that they are gone and why.
/// A hidden marker finds it again; cells are escaped so a branch name or a build's output
/// cannot break the table or inject markup.
public enum PullRequestComment {
    public static let marker = "<!-- slipway:previews -->"

    /// Past these, providers refuse a comment: the table is cut with a note.
    public static func limit(_ provider: CommitStatus.Provider) -> Int {
        switch provider {
        case .github: 65_536
        case .gitlab: 1_000_000
        case .bitbucket, .bitbucketServer: 32_768
        }
    }

    public static func body(_ previews: [PreviewStatus], provider: CommitStatus.Provider, publicURL: String?) -> String {
        let ordered = previews.sorted { $0.service < $1.service }
        let gone = !ordered.isEmpty && ordered.allSatisfy { $0.state == .tornDown }
        var head = [marker]
        if gone {
            head.append("### Slipway previews: gone")
            head.append("")
            let reasons = Set(ordered.compactMap { $0.reason.map { Self.cell($0) } }).sorted()
            head.append("The previews of this pull request were torn down\(reasons.isEmpty ? "." : ": " + reasons.joined(separator: "; ") + ".")")
        } else {
            head.append("### Slipway previews")
        }
        head.append("")
        head.append("| Preview | State | Commit | URL |")
        head.append("| --- | --- | --- | --- |")
        let rows = ordered.map { row($0, publicURL: publicURL) }
        let failures = ordered.compactMap { p -> String? in
            guard let failure = p.failure, p.state == .failed || p.state == .live else { return nil }
            return "- **\(cell(p.service))**: \(cell(String(failure.prefix(600))))"
        }
        var tail: [String] = []
        if !failures.isEmpty { tail = ["", "**Why it failed**", ""] + failures }
        tail.append("")
        tail.append("<sub>Kept up to date by Slipway; edited in place on every change.</sub>")

        let limit = limit(provider)
        var shown = rows.count
        while shown >= 0 {
            var lines = head + rows.prefix(shown)
            if shown < rows.count {
                lines.append("")
                lines.append("_\(rows.count - shown) more previews not shown: the comment would pass \(provider.displayName)'s \(limit)-character limit; `slipway previews` lists them all._")
            }
            let text = (lines + (shown == rows.count ? tail : tail.suffix(2))).joined(separator: "\n")
            if text.count <= limit || shown == 0 { return String(text.prefix(limit)) }
            shown -= 1
        }
        return String(head.joined(separator: "\n").prefix(limit))
    }

    static func row(_ p: PreviewStatus, publicURL: String?) -> String {
        let state: String
        switch p.state {
        case .building: state = "🔨 building"
        case .rollingOut: state = "🚀 rolling out"
        case .live: state = p.failure == nil ? "✅ live" : "⚠️ live (newest commit failed)"
        case .failed: state = "❌ failed"
        case .tornDown: state = p.tornDown ? "🗑️ torn down" : "🗑️ tearing down"
        }
        let commit = p.sha.map { "`\($0.prefix(12))`" } ?? "–"
        let link: String
        if p.state == .tornDown {
            link = "–"
        } else if let url = p.url, url.hasPrefix("http://") || url.hasPrefix("https://") {
            link = "[\(cell(url))](\(url.replacingOccurrences(of: ")", with: "%29").replacingOccurrences(of: " ", with: "%20")))"
        } else {
            link = p.url.map(cell) ?? "–"
        }
        return "| \(cell(p.service)) | \(state) | \(commit) | \(link) |"
    }

    /// One table cell's text: one line, no pipes, no markup.
    static func cell(_ text: String) -> String {
        Terminal.printable(text, limit: 600)
            .replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "|", with: "\\|")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
