/// Text from outside (build output, payload fields, repository files) made safe to store
/// and to show: it cannot move a terminal's cursor, recolour or retitle it, hide what
/// follows, or carry a NUL that Postgres refuses in text. Applied where lines are stored
/// and again where the CLI prints, so older rows are safe too.
public enum Terminal {
    /// `text` without escape sequences and control characters (tab kept), without the
    /// bidirectional overrides that reorder what a reader sees; cut to `limit` characters.
    /// With `newlines`, line breaks stay (a multi-line reason, a Dockerfile); carriage returns go.
    public static func printable(_ text: String, limit: Int? = nil, newlines: Bool = false) -> String {
        guard needsCleaning(text, newlines: newlines) || limit.map({ text.count > $0 }) == true else { return text }
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars[...]
        while let c = scalars.popFirst() {
            switch c.value {
            case 0x1B:
                skipEscape(&scalars)
            case 0x9B:
                skipControlSequence(&scalars)
            case _ where isUnsafe(c, newlines: newlines):
                continue
            default:
                out.append(c)
            }
        }
        let clean = String(out)
        guard let limit, clean.count > limit else { return clean }
        return String(clean.prefix(max(0, limit - 1))) + "…"
    }

    /// Whether `printable` would change `text` (most lines are plain: they are left as they are).
    public static func needsCleaning(_ text: String, newlines: Bool = false) -> Bool {
        text.unicodeScalars.contains { isUnsafe($0, newlines: newlines) }
    }

    /// A control character (tab kept; line feed with `newlines`), or a mark that reorders or
    /// breaks what a reader sees.
    static func isUnsafe(_ c: Unicode.Scalar, newlines: Bool) -> Bool {
        switch c.value {
        case 0x09: false
        case 0x0A: !newlines
        case 0x00..<0x20, 0x7F..<0xA0: true
        case 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C, 0x2028, 0x2029: true
        default: false
        }
    }

    /// After ESC: a CSI (`[` … final byte), an OSC/DCS/APC/PM/SOS string (up to BEL or ESC `\`),
    /// or a two-character sequence.
    static func skipEscape(_ scalars: inout Substring.UnicodeScalarView) {
        guard let next = scalars.popFirst() else { return }
        switch next {
        case "[":
            skipControlSequence(&scalars)
        case "]", "P", "_", "^", "X":
            while let c = scalars.popFirst() {
                if c.value == 0x07 { return }
                if c.value == 0x1B {
                    if scalars.first == "\\" { scalars.removeFirst() }
                    return
                }
            }
        default:
            return
        }
    }

    /// Parameter and intermediate bytes up to the final byte (0x40–0x7E).
    static func skipControlSequence(_ scalars: inout Substring.UnicodeScalarView) {
        while let c = scalars.popFirst() {
            if (0x40...0x7E).contains(c.value) { return }
            if !(0x20...0x3F).contains(c.value) { return }
        }
    }
}
