import SlipwayCore
import Testing

/// Text from builds and payloads, made safe to store and to show.
@Suite struct TerminalTests {
    @Test(arguments: [
        ("plain line", "plain line"),
        ("tab\tkept", "tab\tkept"),
        ("\u{1b}[31mred\u{1b}[0m text", "red text"),
        ("\u{1b}[2J\u{1b}[Hcleared", "cleared"),
        ("\u{1b}]0;new title\u{07}after", "after"),
        ("\u{1b}]8;;https://evil.example\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link"),
        ("nul\u{0}byte", "nulbyte"),
        ("over\rwritten", "overwritten"),
        ("two\nlines", "twolines"),
        ("bell\u{07} del\u{7f} c1\u{9b}31m", "bell del c1"),
        ("rtl \u{202e}gnp.exe", "rtl gnp.exe"),
        ("ünïcödé ✓", "ünïcödé ✓"),
        ("\u{1b}", ""),
    ])
    func printable(_ raw: String, _ shown: String) {
        #expect(Terminal.printable(raw) == shown)
    }

    @Test func newlinesMayStayAndLongTextIsCut() {
        #expect(Terminal.printable("a\r\nb\u{1b}[1m\n", newlines: true) == "a\nb\n")
        #expect(Terminal.printable(String(repeating: "x", count: 50), limit: 10) == String(repeating: "x", count: 9) + "…")
    }
}
