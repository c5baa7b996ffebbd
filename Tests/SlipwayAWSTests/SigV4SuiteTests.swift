import Foundation
import SlipwayAWS
import Testing

/// The official SigV4 suite (Fixtures/aws4_testsuite, from botocore; see its README):
/// for every case the canonical request, the string to sign and the Authorization header
/// match byte for byte.
@Suite struct SigV4SuiteTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/aws4_testsuite")
    static let credentials = SigV4.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let date = Date(timeIntervalSince1970: 1_440_938_160)   // 2015-08-30T12:36:00Z

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var folder: URL
        var testDescription: String { name }
        func file(_ suffix: String) -> String {
            (try? String(contentsOf: folder.appendingPathComponent("\(folder.lastPathComponent).\(suffix)"), encoding: .utf8)) ?? ""
        }
    }

    static let cases: [Case] = {
        var out: [Case] = []
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".req") else { continue }
            let folder = root.appendingPathComponent((relative as NSString).deletingLastPathComponent)
            out.append(Case(name: (relative as NSString).deletingLastPathComponent, folder: folder))
        }
        return out.sorted { $0.name < $1.name }
    }()

    /// A raw `.req`: request line (the path may hold spaces), headers with folded lines, body.
    static func parse(_ text: String) -> SigV4.Request {
        let lines = text.components(separatedBy: "\n")
        let requestLine = lines[0]
        let method = String(requestLine.prefix { $0 != " " })
        let target = requestLine.dropFirst(method.count + 1).components(separatedBy: " ").dropLast().joined(separator: " ")
        let (path, query) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) } ?? (target, "")
        var headers: [(name: String, value: String)] = []
        var index = 1
        while index < lines.count, !lines[index].isEmpty {
            let line = lines[index]
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
            index += 1
        }
        let body = index + 1 < lines.count ? lines[(index + 1)...].joined(separator: "\n") : ""
        return SigV4.Request(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
    }

    @Test func theWholeSuiteIsHere() { #expect(Self.cases.count == 34) }

    @Test(arguments: cases)
    func matches(_ c: Case) {
        let request = Self.parse(c.file("req"))
        // The session token comes from the canonical request, as botocore's harness does.
        let token = c.file("creq").components(separatedBy: "\n").first { $0.hasPrefix("x-amz-security-token:") }
            .map { String($0.dropFirst("x-amz-security-token:".count)) }
        var credentials = Self.credentials
        if !request.headers.contains(where: { $0.name.lowercased() == "x-amz-security-token" }) { credentials.sessionToken = token }
        let signed = SigV4.sign(request, credentials: credentials, region: "us-east-1", service: "service", date: Self.date)
        #expect(signed.canonicalRequest == c.file("creq"))
        #expect(signed.stringToSign == c.file("sts"))
        #expect(signed.authorization == c.file("authz"))
    }
}
