import Foundation
import SlipwayPolicy
import Testing

@Suite struct PolicyLoaderTests {
    func folder(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("policies-\(UUID().uuidString)").path
        for (name, text) in files {
            let path = "\(dir)/\(name)"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return dir
    }

    let web = "service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\n"

    @Test func loadsYamlFilesRecursivelyInOrder() throws {
        let dir = try folder(["b.yaml": web, "team/a.yml": web.replacingOccurrences(of: "web", with: "api"),
                              "README.md": "not a policy", ".hidden/x.yaml": "garbage: ["])
        let policies = try PolicyLoader(allowLocalRepos: false).load(path: dir)
        #expect(policies.map(\.policy.service) == ["web", "api"])
        #expect(policies[1].file == "\(dir)/team/a.yml")
    }

    @Test func duplicateNamesAcrossFilesAreErrors() throws {
        let dir = try folder(["a.yaml": web, "b.yaml": web])
        do {
            _ = try PolicyLoader(allowLocalRepos: false).load(path: dir)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(dir)/b.yaml:1:10: `service` `web` is already declared at \(dir)/a.yaml:1; service names are unique across all policy files")
        }
    }

    @Test func missingOrEmptyFolders() throws {
        #expect(throws: PolicyErrors.self) { try PolicyLoader(allowLocalRepos: false).load(path: "/nonexistent/policies") }
        let empty = try folder(["README.md": "x"])
        #expect(throws: PolicyErrors.self) { try PolicyLoader(allowLocalRepos: false).load(path: empty) }
    }

    @Test func theRepositoryExamplesAreValid() throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../policies").standardized.path
        let policies = try PolicyLoader(allowLocalRepos: true).load(path: examples)
        #expect(!policies.isEmpty)
    }
}
