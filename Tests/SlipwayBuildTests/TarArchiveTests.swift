import Foundation
import NIOCore
import NIOFoundationCompat
import SlipwayBuild
import SlipwaySystem
import Testing

@Suite struct TarArchiveTests {
    func tree(_ files: [String: String], symlinks: [String: String] = [:]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctx-\(UUID().uuidString)").path
        for (name, text) in files {
            let path = "\(dir)/\(name)"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        for (name, target) in symlinks {
            try FileManager.default.createSymbolicLink(atPath: "\(dir)/\(name)", withDestinationPath: target)
        }
        return dir
    }

    /// Lists the archive with the system's tar: the format must be what real readers read.
    func list(_ buffer: ByteBuffer) throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("a-\(UUID().uuidString).tar")
        try Data(buffer: buffer).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/tar")
        process.arguments = ["-tvf", file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return output.split(separator: "\n").map(String.init)
    }

    @Test func filesDirectoriesSymlinksAndLongNames() throws {
        let long = String(repeating: "deep/", count: 25) + "file.txt"
        let dir = try tree(["Dockerfile": "FROM x\n", "src/app.sh": "echo hi\n", long: "x"], symlinks: ["link": "src/app.sh"])
        let listing = try list(try TarArchive.of(directory: dir))
        #expect(listing.contains { $0.hasSuffix(" Dockerfile") && $0.hasPrefix("-") })
        #expect(listing.contains { $0.hasSuffix(" src/") && $0.hasPrefix("d") })
        #expect(listing.contains { $0.hasSuffix("link -> src/app.sh") && $0.hasPrefix("l") })
        #expect(listing.contains { $0.hasSuffix(long) })
    }

    @Test func sameTreeSameBytes() throws {
        let a = try tree(["b": "2", "a": "1", "d/c": "3"])
        let b = try tree(["d/c": "3", "a": "1", "b": "2"])
        #expect(try TarArchive.of(directory: a) == TarArchive.of(directory: b))
    }

    @Test func dockerignoreIsHonoured() throws {
        let dir = try tree(["Dockerfile": "FROM x", "node_modules/x/index.js": "", "src/a.log": "", "src/keep.log": "", "src/a.js": ""])
        let ignore = DockerIgnore(fileContents: "node_modules\n**/*.log\n!src/keep.log\n# comment\n")
        let names = try list(try TarArchive.of(directory: dir, ignore: ignore)).map { String($0.split(separator: " ").last!) }
        #expect(Set(names) == ["Dockerfile", "src/", "src/keep.log", "src/a.js"])
    }

    /// A link to a folder of the server is one entry of the archive: nothing below it is read.
    @Test func linksAreNeverWalkedInto() throws {
        let dir = try tree(["Dockerfile": "FROM x\n"], symlinks: ["etc": "/etc", "everything": "/"])
        let listing = try list(try TarArchive.of(directory: dir))
        #expect(listing.count == 3)
        #expect(listing.contains { $0.hasSuffix("etc -> /etc") && $0.hasPrefix("l") })
        #expect(!listing.contains { $0.contains("passwd") || $0.contains("everything/") })
    }

    @Test func aDockerignoreThatLeadsOutIsRefused() throws {
        let outside = try tree(["ignore": "secret-pattern\n"])
        let dir = try tree(["Dockerfile": "FROM x\n"], symlinks: [".dockerignore": "\(outside)/ignore"])
        #expect(throws: Confinement.Escape.self) { try DockerIgnore.load(directory: dir) }
        let inside = try tree(["Dockerfile": "FROM x\n", "ignore.txt": "*.log\n"], symlinks: [".dockerignore": "ignore.txt"])
        #expect(try DockerIgnore.load(directory: inside).excludes("a.log"))
    }

    @Test func refusesContextsOverTheLimit() throws {
        let dir = try tree(["big": String(repeating: "x", count: 4096)])
        #expect(throws: TarArchive.TooLarge.self) { try TarArchive.of(directory: dir, limit: 2048) }
    }
}

@Suite struct DockerIgnoreTests {
    @Test(arguments: [
        ("node_modules", "node_modules/a/b.js", true),
        ("*.md", "README.md", true),
        ("*.md", "docs/README.md", false),
        ("**/*.md", "docs/README.md", true),
        ("docs/**", "docs/a/b", true),
        ("/build", "build/out", true),
        ("./tmp", "tmp", true),
        ("Dockerfile", "Dockerfile", false),
    ])
    func matches(pattern: String, path: String, excluded: Bool) {
        #expect(DockerIgnore(patterns: [pattern]).excludes(path) == excluded)
    }

    @Test func lastMatchWins() {
        let ignore = DockerIgnore(patterns: ["*.log", "!important.log", "important.log"])
        #expect(ignore.excludes("important.log"))
    }
}
