import SlipwayCore
import Testing

@Suite struct TimeSpanTests {
    @Test(arguments: [
        ("90s", 90_000), ("5m", 300_000), ("72h", 259_200_000), ("1h30m", 5_400_000),
        ("250ms", 250), ("2d", 172_800_000), ("0s", 0), (" 10s ", 10_000),
    ] as [(String, Int64)])
    func parses(text: String, milliseconds: Int64) {
        #expect(TimeSpan(parsing: text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "90", "s", "5 m", "1.5h", "-5s", "10y", "5m3", "99999999999999999999s"])
    func rejects(text: String) {
        #expect(TimeSpan(parsing: text) == nil)
    }

    @Test(arguments: [
        (90_000, "90s"), (300_000, "5m"), (5_400_000, "1h30m"), (250, "250ms"), (150_000, "2m30s"), (0, "0s"),
    ] as [(Int64, String)])
    func prints(milliseconds: Int64, text: String) {
        #expect(TimeSpan(milliseconds: milliseconds).description == text)
        #expect(TimeSpan(parsing: text)?.milliseconds == milliseconds)
    }
}
