import Foundation
import SlipwayPolicy
import Testing

/// The invalid-policy corpus (Fixtures/invalid/NAME.yaml beside NAME.expected) and the
/// example policies: the validator reports exactly the expected `line:col` and key of
/// every mistake, and the JSON Schema in manifests/ agrees with it on every file.
@Suite struct PolicyCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized
    static let corpus = root.appendingPathComponent("Tests/SlipwayPolicyTests/Fixtures/invalid")

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        /// `line:col keypath`
        var expected: [String]
        /// nil: the schema rejects it too; "accepts": a rule only the validator knows; "n/a": not YAML at all.
        var schema: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { file in
            let name = String(file.dropLast(5))
            let yaml = (try? String(contentsOf: corpus.appendingPathComponent(file), encoding: .utf8)) ?? ""
            let lines = ((try? String(contentsOf: corpus.appendingPathComponent("\(name).expected"), encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            var schema: String?
            var expected = lines
            if let first = lines.first, first.hasPrefix("schema:") {
                schema = first.dropFirst(7).trimmingCharacters(in: .whitespaces)
                expected.removeFirst()
            }
            return Case(name: name, yaml: yaml, expected: expected, schema: schema)
        }
    }()

    @Test func theCorpusIsBroad() {
        #expect(Self.cases.count >= 60)
        #expect(Self.cases.allSatisfy { !$0.expected.isEmpty })
    }

    @Test(arguments: cases)
    func validatorPointsAtEachMistake(_ c: Case) {
        let diagnostics = PolicyParser(allowLocalRepos: false).parse(yaml: c.yaml, file: "\(c.name).yaml").diagnostics
        let got = diagnostics.map { "\($0.line):\($0.column)" }
        let want = c.expected.map { String($0.split(separator: " ")[0]) }
        #expect(got.sorted() == want.sorted(), "\(diagnostics.map(\.description).joined(separator: "\n"))")
        for line in c.expected {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let (place, key) = (parts[0], parts[1])
            let here = diagnostics.filter { "\($0.line):\($0.column)" == place }
            let needle = key == "YAML" ? "YAML" : "`\(key)`"
            // A map's entries count as the map: `deploy.secrets` covers `deploy.secrets.DB_URL`.
            #expect(here.contains { $0.message.contains(needle) || $0.message.contains("`\(key).") || $0.message.contains("`\(key)[") },
                    "\(c.name): nothing at \(place) names \(needle): \(here.map(\.message))")
        }
    }

    static var examples: [String] {
        let policies = root.appendingPathComponent("policies").path
        let enumerator = FileManager.default.enumerator(atPath: policies)
        var out: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            if relative.hasSuffix(".yaml") { out.append("\(policies)/\(relative)") }
        }
        return out.sorted()
    }

    @Test func theExamplesAreValid() throws {
        #expect(Self.examples.count >= 5)
        for path in Self.examples {
            let result = PolicyParser(allowLocalRepos: true).parse(yaml: try String(contentsOfFile: path, encoding: .utf8), file: path)
            #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
            #expect(!result.policies.isEmpty)
        }
    }

    /// Runs the schema over every example and corpus file with Python's `jsonschema`
    /// (what editors and CI linters use) and compares its verdicts with the validator's.
    @Test func theSchemaAgreesWithTheValidator() throws {
        let files = Self.examples + Self.cases.filter { $0.schema != "n/a" }.map { Self.corpus.appendingPathComponent("\($0.name).yaml").path }
        let verdicts = try Self.schemaVerdicts(files)
        for path in Self.examples {
            #expect(verdicts[path] == "valid", "the schema rejects the example \(path): \(verdicts[path] ?? "no verdict")")
        }
        for c in Self.cases where c.schema != "n/a" {
            let verdict = verdicts[Self.corpus.appendingPathComponent("\(c.name).yaml").path] ?? "no verdict"
            if c.schema == "accepts" {
                #expect(verdict == "valid", "\(c.name) is marked as beyond the schema, but the schema rejects it: \(verdict)")
            } else {
                #expect(verdict != "valid", "\(c.name): the validator rejects it, the schema accepts it")
            }
        }
    }

    static func schemaVerdicts(_ files: [String]) throws -> [String: String] {
        let script = """
            import json, sys, yaml
            from jsonschema import Draft202012Validator
            schema = json.load(open(sys.argv[1]))
            Draft202012Validator.check_schema(schema)
            validator = Draft202012Validator(schema)
            out = {}
            for path in sys.argv[2:]:
                try:
                    docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
                except yaml.YAMLError as e:
                    out[path] = "yaml: " + str(e).splitlines()[0]
                    continue
                errors = [e.message for d in docs for e in validator.iter_errors(d)]
                out[path] = "valid" if docs and not errors else ("; ".join(errors) or "empty")
            print(json.dumps(out))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, root.appendingPathComponent("manifests/policy.schema.json").path] + files
        let pipe = Pipe(), errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0, let verdicts = try JSONSerialization.jsonObject(with: data) as? [String: String] else {
            throw SchemaCheckFailed(message: "python3 with jsonschema and PyYAML is needed (deploy/install.sh installs them): \(stderr)")
        }
        return verdicts
    }

    struct SchemaCheckFailed: Error, CustomStringConvertible { var message: String; var description: String { message } }
}
