import Foundation
import SlipwayCore
import SlipwaySystem

/// Reads policy files from a folder (recursively, `*.yaml` and `*.yml`) or a single file.
/// The set is all or nothing: one error anywhere and no policy of it is returned.
public struct PolicyLoader: Sendable {
    public var parser: PolicyParser

    public init(allowLocalRepos: Bool, secretRules: SecretRules = .standard(dataDirectory: nil)) {
        parser = PolicyParser(allowLocalRepos: allowLocalRepos, secretRules: secretRules)
    }

    /// Policy files are small: a larger one is refused before it is parsed.
    public static let maxFileBytes = 1 << 20

    /// - Parameter confinedTo: a checkout of a policies repository: files that are links leading
    ///   out of it are refused, not read.
    public func load(path: String, confinedTo: String? = nil) throws(PolicyErrors) -> [LocatedPolicy] {
        let files = try Self.policyFiles(at: path)
        let confinement = confinedTo.map { Confinement(root: $0) }
        var diagnostics: [PolicyDiagnostic] = []
        var policies: [LocatedPolicy] = []
        for file in files {
            if let confinement, Confinement.realPath(file).map(confinement.contains) != true {
                diagnostics.append(PolicyDiagnostic(file: file, line: 1, column: 1,
                    message: "a symbolic link that leads outside the policies repository; Slipway reads nothing outside the checkout: replace the link with the file itself"))
                continue
            }
            let text: String
            do {
                guard let handle = FileHandle(forReadingAtPath: file) else { throw CocoaError(.fileReadNoPermission) }
                defer { try? handle.close() }
                let data = try handle.read(upToCount: Self.maxFileBytes + 1) ?? Data()
                guard data.count <= Self.maxFileBytes else {
                    diagnostics.append(PolicyDiagnostic(file: file, line: 1, column: 1,
                        message: "the file is over \(Self.maxFileBytes >> 20) MiB; a policy file holds a few services: split it"))
                    continue
                }
                guard let decoded = String(data: data, encoding: .utf8) else { throw CocoaError(.fileReadInapplicableStringEncoding) }
                text = decoded
            } catch {
                diagnostics.append(PolicyDiagnostic(file: file, line: 1, column: 1, message: "cannot read the file as UTF-8 text: \(error.localizedDescription)"))
                continue
            }
            let result = parser.parseDocuments(yaml: text, file: file)
            diagnostics += result.diagnostics
            policies += result.policies
        }
        // Within a file the parser has reported them already.
        diagnostics += Self.duplicateNames(policies).filter { duplicate in
            !diagnostics.contains { $0.file == duplicate.file && $0.line == duplicate.line && $0.column == duplicate.column }
        }
        guard diagnostics.isEmpty else { throw PolicyErrors(diagnostics) }
        return policies
    }

    static func duplicateNames(_ policies: [LocatedPolicy]) -> [PolicyDiagnostic] {
        var first: [String: LocatedPolicy] = [:]
        var out: [PolicyDiagnostic] = []
        for located in policies {
            if let earlier = first[located.policy.service] {
                out.append(PolicyDiagnostic(
                    file: located.file, line: located.line, column: located.column,
                    message: "`service` `\(located.policy.service)` is already declared at \(earlier.file):\(earlier.line); service names are unique across all policy files"))
            } else {
                first[located.policy.service] = located
            }
        }
        // A declared name may not be another service's preview (`web-pr-3` beside `web` with previews).
        for located in policies {
            guard let base = PreviewRules.collision(located.policy.service, previewing: first.mapValues(\.policy.previews.enabled)),
                  let owner = first[base] else { continue }
            out.append(PolicyDiagnostic(
                file: located.file, line: located.line, column: located.column,
                message: "`service` `\(located.policy.service)` is the name of a preview of `\(base)` (previews.enabled at \(owner.file):\(owner.line)); choose another name"))
        }
        return out
    }

    public static func policyFiles(at path: String) throws(PolicyErrors) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PolicyErrors([PolicyDiagnostic(file: path, line: 1, column: 1,
                message: "no such file or folder; set SLIPWAY_POLICIES to the folder that holds your policy files")])
        }
        guard isDirectory.boolValue else { return [path] }
        let base = path.hasSuffix("/") ? String(path.dropLast()) : path
        let enumerator = FileManager.default.enumerator(atPath: base)
        var files: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                enumerator?.skipDescendants()
                continue
            }
            if name.hasSuffix(".yaml") || name.hasSuffix(".yml") { files.append("\(base)/\(relative)") }
        }
        guard !files.isEmpty else {
            throw PolicyErrors([PolicyDiagnostic(file: path, line: 1, column: 1,
                message: "no policy files (*.yaml, *.yml) in this folder")])
        }
        return files.sorted()
    }
}
