import Foundation
import SlipwayCore

protocol Provider: Sendable {
    /// Railpack's name, lower-case.
    var name: String { get }
    func detect(_ context: Context) -> Bool
    func plan(_ context: Context) -> BuildPlan
}

/// Zero-config detection the way Railpack does it (../shared/research/railpack.md): the
/// first provider that detects plans the build; railpack.json beats `RAILPACK_*`
/// beats what the provider found; a Procfile beats the provider's start command.
public enum Detector {
    static let providers: [any Provider] = [
        PHPProvider(), GoProvider(), JavaProvider(), RustProvider(), RubyProvider(), ElixirProvider(),
        PythonProvider(), DenoProvider(), DotnetProvider(), NodeProvider(), GleamProvider(), CppProvider(),
        StaticfileProvider(), ShellProvider(),
    ]

    /// What to tell a user whose repository matched no provider.
    public static let nothingDetected = """
        nothing detected: no file at the root that a provider recognizes (package.json, requirements.txt, \
        pyproject.toml, go.mod, Cargo.toml, Gemfile, pom.xml, gradlew, composer.json, mix.exs, deno.json, *.csproj, \
        gleam.toml, CMakeLists.txt, index.html, public/, Staticfile, start.sh). Add a Dockerfile and set build.dockerfile, \
        or add railpack.json with a provider and deploy.startCommand.
        """

    /// Every provider name, in detection order.
    public static var providerNames: [String] { providers.map(\.name) }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The plan for a tree; `environment` is the build's environment (`RAILPACK_*` and the few plain names Railpack reads).
    public static func plan(_ tree: any FileTree, environment: [String: String] = [:]) throws(Failure) -> BuildPlan {
        let config = try loadConfig(tree, environment: environment)
        let context = Context(tree: tree, env: environment, config: config)
        let detected = providers.first { $0.detect(context) }
        var provider = detected
        // A provider named in railpack.json is used instead (an unknown name: none, as Railpack does).
        if let forced = config.provider { provider = providers.first { $0.name == forced.lowercased() } }
        if let text = tree.read("Procfile"), let problem = Procfile.problem(text) { throw Failure(description: problem) }
        var plan = provider?.plan(context) ?? BuildPlan(provider: nil)
        applyOverrides(&plan, context: context)
        // A plan made from a partial view (a file refused, a limit reached) is not made at all.
        let problems = tree.problems()
        guard problems.isEmpty else { throw Failure(description: problems.joined(separator: "; ")) }
        try checkVersions(plan)
        return plan
    }

    /// Every version the plan names becomes an image tag or a command word: one that is not
    /// a plain version is refused with where to fix it, never rendered.
    static func checkVersions(_ plan: BuildPlan) throws(Failure) {
        let versions = plan.tools.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            + (plan.runtimeVersion.map { [("runtime", $0)] } ?? [])
        for (tool, version) in versions where !Versions.isValid(version) {
            throw Failure(description: "the \(tool) version `\(Terminal.printable(version, limit: 40))` read from the repository (or RAILPACK_* settings) "
                + "is not a version: use 1 to \(Versions.maxLength) letters, digits and . _ + -, as in 20, 3.12.1 or lts "
                + "(engines, .nvmrc, .tool-versions, mise.toml, runtime.txt, railpack.json packages)")
        }
    }

    static func loadConfig(_ tree: any FileTree, environment: [String: String]) throws(Failure) -> RailpackConfig {
        let explicit = environment["RAILPACK_CONFIG_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let path = explicit ?? "railpack.json"
        guard let text = tree.read(path) else {
            if let explicit { throw Failure(description: "RAILPACK_CONFIG_FILE names \(explicit), which is not in the repository") }
            return RailpackConfig()
        }
        guard let stripped = JSONC.strip(text), let data = stripped.data(using: .utf8),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Failure(description: "\(path) is not valid JSON; fix it or remove it (https://railpack.com/config/file)")
        }
        return RailpackConfig(json: json)
    }

    /// railpack.json > RAILPACK_* > Procfile > provider, for commands, start and versions.
    static func applyOverrides(_ plan: inout BuildPlan, context: Context) {
        let config = context.config
        if let command = context.railpack("INSTALL_CMD") { plan.install = [command]; plan.installFiles = ["."] }
        if let command = context.railpack("BUILD_CMD") { plan.build = [command] }
        if let commands = config.installCommands { plan.install = RailpackConfig.splice(commands, into: plan.install); plan.installFiles = ["."] }
        if let commands = config.buildCommands { plan.build = RailpackConfig.splice(commands, into: plan.build) }

        if let start = config.startCommand ?? context.railpack("START_CMD") ?? procfileStart(context.tree) ?? plan.start {
            plan.start = start
        }
        // Packages asked for by name beat every version the provider found: env first, then the file.
        var packages: [String: String] = [:]
        for item in (context.railpack("PACKAGES") ?? "").split(separator: " ") {
            let parts = item.split(separator: "@", maxSplits: 1)
            packages[String(parts[0])] = parts.count == 2 ? String(parts[1]) : "latest"
        }
        packages.merge(config.packages) { $1 }
        for (tool, version) in packages {
            let mapped = tool == "nodejs" ? "node" : tool
            plan.tools[mapped] = Versions.fuzzy(version)
            if mapped == runtimeTool(plan) { plan.runtimeVersion = Versions.fuzzy(version) }
        }
    }

    /// The tool whose version is the plan's `runtimeVersion`.
    static func runtimeTool(_ plan: BuildPlan) -> String? {
        guard let provider = plan.provider else { return nil }
        switch provider {
        case "node": return plan.tools["node"] != nil ? "node" : "bun"
        case "golang": return "go"
        case "java": return "java"
        default: return provider
        }
    }

    /// `web`, else `worker`, else the first entry.
    static func procfileStart(_ tree: any FileTree) -> String? {
        guard let text = tree.read("Procfile") else { return nil }
        let entries = Procfile.entries(text)
        return entries["web"] ?? entries["worker"] ?? entries.sorted { $0.key < $1.key }.first?.value
    }
}

/// `name: command` lines, as Heroku reads a Procfile: a name of letters, digits, `_` and
/// `-`, a colon, the command to the end of the line. Not YAML: a Procfile is read in one
/// pass over its lines, whatever it holds.
enum Procfile {
    static func entries(_ text: String) -> [String: String] {
        var entries: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else { continue }
            let command = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if !command.isEmpty, entries[String(name)] == nil { entries[String(name)] = command }
        }
        return entries
    }

    /// A Procfile written as YAML with anchors or aliases (`&a`, `*a`): Heroku would run those
    /// words as commands; here the build fails at once, saying so (an alias bomb included).
    static func problem(_ text: String) -> String? {
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            if let first = value.first, first == "&" || first == "*", value.dropFirst().first.map({ $0.isLetter || $0.isNumber || $0 == "_" }) == true {
                return "Procfile line \(number + 1) uses a YAML anchor or alias (`\(Terminal.printable(String(value.prefix(20)), limit: 20))`); "
                    + "a Procfile is plain `name: command` lines, as Heroku reads it: write each command out"
            }
        }
        return nil
    }

    /// `key: value` of a Staticfile (Cloud Foundry's static buildpack settings), quotes removed.
    static func setting(_ key: String, in text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].trimmingCharacters(in: .whitespaces) == key else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["\"", "'"])
            return value.isEmpty ? nil : value
        }
        return nil
    }
}
