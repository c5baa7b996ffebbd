import Foundation

struct GoProvider: Provider {
    let name = "golang"

    func detect(_ c: Context) -> Bool { c.hasAny(["go.mod", "go.work", "main.go"]) }

    func plan(_ c: Context) -> BuildPlan {
        var version = "1.25"
        if let mod = c.read("go.mod"), let v = Pattern.first(mod, #"(?m)^go\s+([0-9][0-9.]*)"#) { version = v }
        if let env = c.railpack("GO_VERSION") { version = Versions.fuzzy(env) }
        if let mise = c.miseVersion("go") { version = mise }

        var build = #"go build -ldflags="-w -s" -o out"#
        if let target = target(c) { build += " \(target)" }
        let cgo = c.env["CGO_ENABLED"] == "1" ? "1" : "0"
        var files = ["go.mod", "go.sum", "go.work", "go.work.sum"].filter(c.has)
        files += workspaceModules(c).flatMap { ["\($0)/go.mod", "\($0)/go.sum"] }.filter(c.has)
        return BuildPlan(provider: name, packageManager: "go", runtimeVersion: version,
                         install: c.has("go.mod") ? ["go mod download"] : [], build: [build], start: "./out",
                         tools: ["go": version], installFiles: files.isEmpty ? ["."] : files,
                         variables: ["CGO_ENABLED": cgo], caches: ["/root/.cache/go-build", "/go/pkg/mod"])
    }

    func target(_ c: Context) -> String? {
        if let module = c.railpack("GO_WORKSPACE_MODULE") { return "./\(module)" }
        if let bin = c.railpack("GO_BIN") { return "./cmd/\(bin)" }
        let hasMod = c.has("go.mod")
        if hasMod, c.tree.list("").contains(where: { $0.hasSuffix(".go") && !c.tree.isDirectory($0) }) { return nil }
        if let first = c.tree.list("cmd").first(where: { c.tree.isDirectory("cmd/\($0)") }) { return "./cmd/\(first)" }
        if hasMod { return nil }
        if c.has("go.work"), let module = workspaceModules(c).first(where: { c.has("\($0)/main.go") }) { return "./\(module)" }
        if c.has("main.go") { return "main.go" }
        return nil
    }

    /// `use ./api` and `use ( ./a ./b )` in go.work.
    func workspaceModules(_ c: Context) -> [String] {
        guard let text = c.read("go.work") else { return [] }
        var modules: [String] = []
        var inBlock = false
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("use (") { inBlock = true; continue }
            if inBlock, line == ")" { inBlock = false; continue }
            let entry = inBlock ? line : (line.hasPrefix("use ") ? String(line.dropFirst(4)) : "")
            let module = entry.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "./", with: "")
            if !module.isEmpty, !module.hasPrefix("//") { modules.append(module) }
        }
        return modules
    }
}
