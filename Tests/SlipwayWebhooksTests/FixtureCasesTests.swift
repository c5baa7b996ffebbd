import Foundation
import SlipwayCore
import SlipwayWebhooks
import Testing

/// Every payload under Fixtures/cases (NAME.json, NAME.headers, NAME.expected.json),
/// written from each provider's documented format, through the parser; the printed
/// contract must equal the expected event key by key.
@Suite struct FixtureCasesTests {
    static let directory: URL? = Bundle.module.url(forResource: "Fixtures/cases", withExtension: nil)

    static var names: [String] {
        guard let directory,
              let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return files.filter { $0.hasSuffix(".expected.json") }.map { String($0.dropLast(".expected.json".count)) }.sorted()
    }

    static func headers(_ name: String) throws -> WebhookHeaders {
        let text = try String(contentsOf: directory!.appendingPathComponent("\(name).headers"), encoding: .utf8)
        var headers = WebhookHeaders()
        for line in text.split(whereSeparator: \.isNewline) {
            if let (key, value) = WebhookHeaders.parseLine(String(line)) { headers[key] = value }
        }
        return headers
    }

    /// The keys of the printed contract (plus `changes` for multi-change bodies).
    static let contractKeys = ["provider", "kind", "deliveryID", "repository", "ref", "branch", "tag", "before", "after",
                               "deleted", "pullRequest", "changes"]

    static func contract(_ object: [String: Any]) -> NSDictionary {
        var kept: [String: Any] = [:]
        for key in contractKeys where object[key] != nil {
            if key == "changes", let changes = object[key] as? [[String: Any]] {
                kept[key] = changes.map { contract($0) }
            } else {
                kept[key] = object[key]
            }
        }
        return kept as NSDictionary
    }

    @Test func thereAreCasesForEveryProvider() {
        for prefix in ["github-", "gitlab-", "bitbucket-cloud-", "bitbucket-server-"] {
            #expect(Self.names.filter { $0.hasPrefix(prefix) }.count >= 5, "few cases for \(prefix)")
        }
    }

    @Test(arguments: FixtureCasesTests.names)
    func normalizes(_ name: String) throws {
        let directory = try #require(Self.directory)
        let body = try Data(contentsOf: directory.appendingPathComponent("\(name).json"))
        let expectedData = try Data(contentsOf: directory.appendingPathComponent("\(name).expected.json"))
        let expected = try #require(try JSONSerialization.jsonObject(with: expectedData) as? [String: Any])
        let headers = try Self.headers(name)

        if expected["error"] != nil {
            #expect(throws: WebhookError.self, "\(name) should be refused") {
                _ = try WebhookParser.parse(headers: headers, body: body)
            }
            return
        }
        let event = try WebhookParser.parse(headers: headers, body: body)
        let printed = try #require(try JSONSerialization.jsonObject(with: JSONEncoder.slipway.encode(event)) as? [String: Any])
        for key in Self.contractKeys where key != "changes" {
            #expect(printed.keys.contains(key), "\(name): printed event lacks `\(key)`")
        }
        let got = Self.contract(printed), want = Self.contract(expected)
        #expect(got == want, "\(name):\n got \(got)\nwant \(want)")
    }
}
