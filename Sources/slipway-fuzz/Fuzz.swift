import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDetect
import SlipwayPolicy
import SlipwayRegistry
import SlipwayWebhooks

/// libFuzzer targets for every parser that reads what someone else wrote: webhook bodies and
/// their signatures, policies, detection inputs, `.dockerignore` and path globs, BuildKit's
/// progress, log lines, and registries' `WWW-Authenticate`. `deploy/fuzz` builds this with
/// `-sanitize=fuzzer,address -DSLIPWAY_FUZZ` and picks the target with SLIPWAY_FUZZ_TARGET;
/// a plain build only says how to run it.
enum FuzzTargets {
    static let all: [String: @Sendable (Data) -> Void] = [
        "webhooks": webhooks, "policy": policy, "detect": detect, "dockerignore": dockerIgnore,
        "buildkit": buildKit, "logline": logLine, "challenge": challenge,
    ]

    /// The first byte picks the provider and event; the rest is the body. Parsing never traps,
    /// and a signature over the body checks while a changed one does not.
    static func webhooks(_ data: Data) {
        guard let first = data.first else { return }
        let body = Data(data.dropFirst())
        let secret = "fuzz-secret"
        let kinds: [(NormalizedEvent.Provider, [(String, String)])] = [
            (.github, [("X-GitHub-Event", "push")]), (.github, [("X-GitHub-Event", "pull_request")]),
            (.gitlab, [("X-Gitlab-Event", "Push Hook")]), (.gitlab, [("X-Gitlab-Event", "Merge Request Hook")]),
            (.bitbucket, [("X-Event-Key", "repo:push"), ("X-Request-UUID", "u")]),
            (.bitbucket, [("X-Event-Key", "pullrequest:created"), ("X-Request-UUID", "u")]),
            (.bitbucketServer, [("X-Event-Key", "repo:refs_changed"), ("X-Request-Id", "r")]),
            (.bitbucketServer, [("X-Event-Key", "pr:opened"), ("X-Request-Id", "r")]),
        ]
        let (provider, pairs) = kinds[Int(first) % kinds.count]
        let signature = provider == .gitlab ? secret : WebhookSignature.sign(body: body, secret: secret)
        let headers = WebhookHeaders(pairs + [(WebhookSignature.header(for: provider), signature)])
        precondition(WebhookSignature.verify(provider: provider, headers: headers, body: body, secret: secret), "a valid signature was refused")
        if provider != .gitlab {
            let wrong = WebhookHeaders(pairs + [(WebhookSignature.header(for: provider), WebhookSignature.sign(body: body + [0], secret: secret))])
            precondition(!WebhookSignature.verify(provider: provider, headers: wrong, body: body, secret: secret), "another body's signature passed")
        }
        _ = WebhookParser.provider(for: headers, body: body)
        _ = try? WebhookParser.parseAll(headers: headers, body: body)
    }

    /// A policy file, and the same text as SLIPWAY_NOTIFY.
    static func policy(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        _ = PolicyParser(allowLocalRepos: data.count % 2 == 0).parse(yaml: text, file: "fuzz.yaml")
        _ = PolicyParser(allowLocalRepos: false).parseNotifySetting(text)
    }

    /// The first byte picks which detection input the rest is; detection returns a plan or a failure.
    static func detect(_ data: Data) {
        guard let first = data.first else { return }
        let names = ["package.json", "railpack.json", "pyproject.toml", "requirements.txt", "Cargo.toml", "go.mod", "Gemfile",
                     "composer.json", "Procfile", "mix.exs", "deno.json", ".nvmrc", ".python-version", "pom.xml", "index.html"]
        let name = names[Int(first) % names.count]
        var files = [name: String(decoding: data.dropFirst(), as: UTF8.self)]
        // With a package.json beside it, the JS providers read their lockfiles and the config too.
        if name != "package.json" && first & 0x80 != 0 { files["package.json"] = #"{"name":"app","scripts":{"start":"node index.js"}}"# }
        _ = try? Detector.plan(MemoryTree(files))
    }

    /// Lines before the first empty line are `.dockerignore` patterns; the rest are paths to ask
    /// about, through both the ignore file and `source.paths` globs.
    static func dockerIgnore(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        let parts = text.components(separatedBy: "\n\n")
        let ignore = DockerIgnore(fileContents: parts[0])
        let paths = parts.dropFirst().joined(separator: "\n").split(separator: "\n").map(String.init)
        let filter = PathFilter(parts[0].split(separator: "\n").map(String.init))
        for path in paths.prefix(64) {
            _ = ignore.excludes(path)
            _ = filter.matches(path)
        }
    }

    /// BuildKit's progress as the engine streams it (JSON lines, with base64 protobuf traces) and as buildctl prints it (rawjson).
    static func buildKit(_ data: Data) {
        var engine = BuildProgress()
        var rawjson = BuildProgress()
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).prefix(256) {
            _ = engine.consume(Data(line))
            _ = rawjson.consumeRawJSON(Data(line))
        }
    }

    /// A log line made printable and written as JSON reads back as the printable text, whatever it held.
    static func logLine(_ data: Data) {
        let printable = Terminal.printable(String(decoding: data, as: UTF8.self), newlines: data.first.map { $0 & 1 == 1 } ?? false)
        guard let json = try? CompactJSON.encode([printable]),
              let back = try? JSONSerialization.jsonObject(with: Data(json)) as? [String] else {
            preconditionFailure("CompactJSON wrote what JSONSerialization cannot read")
        }
        precondition(back == [printable], "the JSON of a log line read back differently")
        precondition(!printable.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0 }, "an escape or NUL survived")
    }

    /// A registry's `WWW-Authenticate` header.
    static func challenge(_ data: Data) {
        _ = Challenge.parse(String(decoding: data, as: UTF8.self))
    }
}

#if SLIPWAY_FUZZ
import CFuzzDriver

let selected: @Sendable (Data) -> Void = {
    let name = ProcessInfo.processInfo.environment["SLIPWAY_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.all[name] else {
        fatalError("SLIPWAY_FUZZ_TARGET must be one of \(FuzzTargets.all.keys.sorted().joined(separator: ", "))")
    }
    return target
}()

/// The package links each executable's `main` under this name: hand the arguments to libFuzzer.
@_cdecl("slipway_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { bytes, size in
        selected(Data(bytes: bytes!, count: size))
        return 0
    }
}
#else
@main
struct FuzzUsage {
    static func main() {
        print("slipway-fuzz holds libFuzzer targets (\(FuzzTargets.all.keys.sorted().joined(separator: ", "))); run them with deploy/fuzz")
    }
}
#endif
