import Foundation
import SlipwayDetect
import Testing

/// Example apps (Fixtures/apps/NAME/tree, env.json, executables.txt) and the plan each
/// must give, written from the Railpack summary independently of the code.
@Suite struct DetectCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/apps")

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var tree: MemoryTree
        var environment: [String: String]
        var expected: Expected
        var testDescription: String { name }
    }

    struct Expected: Decodable, Sendable {
        var provider: String?
        var packageManager: String?
        var runtimeVersion: String?
        var install: [String]
        var build: [String]
        var start: String?
    }

    static func load(_ name: String) -> Case {
        let folder = root.appendingPathComponent(name)
        let treeRoot = folder.appendingPathComponent("tree").path
        var files: [String: String] = [:]
        if let enumerator = FileManager.default.enumerator(atPath: treeRoot) {
            while let relative = enumerator.nextObject() as? String {
                var isDirectory: ObjCBool = false
                FileManager.default.fileExists(atPath: "\(treeRoot)/\(relative)", isDirectory: &isDirectory)
                if !isDirectory.boolValue { files[relative] = (try? String(contentsOfFile: "\(treeRoot)/\(relative)", encoding: .utf8)) ?? "" }
            }
        }
        let executables = ((try? String(contentsOf: folder.appendingPathComponent("executables.txt"), encoding: .utf8)) ?? "")
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let env = (try? JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("env.json")))) as? [String: String] ?? [:]
        let expected = try! JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        return Case(name: name, tree: MemoryTree(files, executables: Set(executables), rootName: "tree"), environment: env, expected: expected)
    }

    static let cases: [Case] = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted().map(load)

    @Test func theCorpusIsBroad() {
        #expect(Self.cases.count >= 45)
    }

    @Test(arguments: cases)
    func planMatches(_ c: Case) throws {
        let plan = try Detector.plan(c.tree, environment: c.environment)
        #expect(plan.provider == c.expected.provider)
        #expect(plan.packageManager == c.expected.packageManager)
        #expect(plan.runtimeVersion == c.expected.runtimeVersion)
        #expect(plan.install == c.expected.install)
        #expect(plan.build == c.expected.build)
        #expect(plan.start == c.expected.start)
    }
}
