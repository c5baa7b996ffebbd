import SlipwayCore

/// What a payload may name, checked once it is parsed and before anything acts on it: a
/// commit is a full SHA (never a branch name the mirror would resolve), a ref is a git ref
/// name (never text that moves a terminal's cursor). A signed body that breaks these is
/// refused whole, with the field at fault.
enum EventValidation {
    static func validate(_ event: NormalizedEvent) throws(WebhookError) -> NormalizedEvent {
        var event = event
        // A push names full SHAs; a pull request's head may be short (Bitbucket Cloud's 12 characters).
        let lengths: Set<Int> = event.kind == .pullRequest ? Set(7...64) : [40, 64]
        event.before = try commit(event.before, field: "before", lengths: lengths)
        event.after = try commit(event.after, field: "after", lengths: lengths)
        try ref(event.ref, field: "ref")
        if var pull = event.pullRequest {
            // Bitbucket Cloud names a pull request's head by 12 characters; the fetch resolves it.
            pull.headSHA = try commit(pull.headSHA, field: "pull request head", lengths: Set(7...64))
            try ref(pull.headBranch, field: "pull request source branch")
            try ref(pull.baseBranch, field: "pull request target branch")
            event.pullRequest = pull
        }
        if let changes = event.changes {
            var checked: [NormalizedEvent] = []
            for change in changes { checked.append(try validate(change)) }
            event.changes = checked
        }
        return event
    }

    /// A commit id in lower case; nil stays nil.
    static func commit(_ value: String?, field: String, lengths: Set<Int>) throws(WebhookError) -> String? {
        guard let value else { return nil }
        guard lengths.contains(value.utf8.count), value.utf8.allSatisfy({ isHex($0) }) else {
            let sizes = lengths.count == 2 ? "40 or 64" : "7 to 64"
            throw .malformed("`\(field)` is `\(Terminal.printable(value, limit: 80))`, not a commit SHA (\(sizes) hex characters); nothing was deployed")
        }
        return value.lowercased()
    }

    /// git's rules for ref names (git check-ref-format), as far as a payload can break them.
    static func ref(_ value: String?, field: String) throws(WebhookError) {
        guard let value else { return }
        let forbidden = value.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7F || "~^:?*[\\".unicodeScalars.contains($0) }
            || Terminal.needsCleaning(value)
        guard !value.isEmpty, value.utf8.count <= 1024, !forbidden, !value.contains(".."), !value.contains("@{"),
              !value.hasPrefix("/"), !value.hasSuffix("/"), !value.hasSuffix(".lock") else {
            throw .malformed("`\(field)` is `\(Terminal.printable(value, limit: 80))`, which is not a git ref name; nothing was deployed")
        }
    }

    static func isHex(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
    }
}
