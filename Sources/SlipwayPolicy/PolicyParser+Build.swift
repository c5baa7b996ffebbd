import SlipwayCore
import Yams

extension PolicyParser {
    func parseBuild(_ node: Node, holder: Node?, reader: inout NodeReader) -> Policy.Build {
        var build = Policy.Build()
        guard let map = reader.mapping(node, at: "build", holder: holder, allowed: Self.buildKeys) else { return build }
        if let n = map["context"], let context = reader.nonEmptyString(n, at: "build.context") {
            if let problem = RepoPath.problem(context) { reader.report(n, "`build.context` `\(context)` \(problem)") }
            build.context = RepoPath.clean(context)
        }
        if let n = map["dockerfile"], let dockerfile = reader.nonEmptyString(n, at: "build.dockerfile") {
            if let problem = RepoPath.problem(dockerfile) { reader.report(n, "`build.dockerfile` `\(dockerfile)` \(problem)") }
            build.dockerfile = RepoPath.clean(dockerfile)
        }
        if let n = map["args"] {
            build.args = reader.variables(n, at: "build.args", what: "a build argument") ?? [:]
        }
        if let n = map["secrets"], let entries = reader.stringMap(n, at: "build.secrets", keyRule: Self.isSecretID,
                                                                   keyHint: "a build secret id ([A-Za-z0-9_.-], up to 64)") {
            for (id, entry) in entries {
                if let reference = secretReference(entry.node, at: "build.secrets.\(id)", reader: &reader) {
                    build.secrets[id] = reference
                }
            }
        }
        if let n = map["target"], let stage = reader.nonEmptyString(n, at: "build.target") {
            if !Self.isStageName(stage) {
                reader.report(n, "`build.target` `\(stage)` is not a Dockerfile stage name (letters, digits, `_`, `.`, `-`)")
            } else if map["dockerfile"] == nil, let key = map.keys["target"] {
                reader.report(key, "`build.target` picks a stage of a Dockerfile; add `build.dockerfile`, or remove it for a zero-config build")
            }
            build.target = stage
        }
        if let n = map["timeout"] {
            build.timeout = reader.duration(n, at: "build.timeout", range: .seconds(10)...TimeSpan.hours(6)) ?? build.timeout
        }
        if let n = map["cache"] { build.cache = reader.bool(n, at: "build.cache") ?? true }
        if let n = map["platform"], let platform = reader.nonEmptyString(n, at: "build.platform") {
            if Self.isPlatform(platform) {
                build.platform = platform
            } else {
                reader.report(n, "`build.platform` `\(platform)` is not a platform; write os/arch, as in linux/amd64 or linux/arm64/v8")
            }
        }
        if let n = map["baseImages"], let entries = reader.stringMap(n, at: "build.baseImages", keyRule: { BaseImageDefaults.images[$0] != nil },
                                                                      keyHint: "a tool or role with a base image (\(BaseImageDefaults.keys.joined(separator: ", ")))") {
            for (key, entry) in entries {
                // `{version}` stands for the plan's version; the rest must be an image reference.
                let probe = entry.value.replacingOccurrences(of: "{version}", with: "1")
                if (try? ImageReference(parsing: probe)) == nil {
                    reader.report(entry.node, "`build.baseImages.\(key)` `\(entry.value)` is not an image reference, as in mirror.internal/node:{version}")
                } else {
                    build.baseImages[key] = entry.value
                }
            }
        }
        return build
    }

    /// `os/arch` or `os/arch/variant`, lowercase.
    static func isPlatform(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        return (2...3).contains(parts.count) && parts.allSatisfy { part in
            !part.isEmpty && part.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
        }
    }

    static func isSecretID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    static func isStageName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }
}
