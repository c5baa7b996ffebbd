import Foundation

struct RustProvider: Provider {
    let name = "rust"

    func detect(_ c: Context) -> Bool { c.has("Cargo.toml") }

    static let editions = ["2015": "1.30.0", "2018": "1.55.0", "2021": "1.84.0", "2024": "1.85.1"]

    func plan(_ c: Context) -> BuildPlan {
        let cargo = c.read("Cargo.toml") ?? ""
        // Each later source wins: files beat the environment.
        var version = "1.89"
        if let edition = TOML.value(in: cargo, section: "package", key: "edition"), let v = Self.editions[edition] { version = v }
        if let env = c.railpack("RUST_VERSION") { version = Versions.fuzzy(env) }
        for file in ["rust-version.txt", ".rust-version"] {
            if let text = c.read(file)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty { version = text }
        }
        if let v = TOML.value(in: cargo, section: "package", key: "rust-version") { version = v }
        if let toolchain = c.read("rust-toolchain.toml"), let channel = TOML.value(in: toolchain, section: "toolchain", key: "channel") {
            version = channel
        } else if let toolchain = c.read("rust-toolchain")?.trimmingCharacters(in: .whitespacesAndNewlines), !toolchain.isEmpty {
            version = toolchain
        }
        if let mise = c.miseVersion("rust") { version = mise }

        let package = TOML.value(in: cargo, section: "package", key: "name")
        let workspace = TOML.sections(in: cargo).contains("workspace") ? workspaceMember(c, cargo) : nil
        var install: [String] = []
        var build = ["mkdir -p bin"]
        var start: String?
        if let workspace {
            build += ["cargo build --release --package \(workspace)", "cp target/release/\(workspace) bin"]
            start = "./bin/\(workspace)"
        } else {
            if let package {
                install = ["mkdir -p src", "echo 'fn main() { }' > src/main.rs", "cargo build --release", "rm -rf src target/release/\(package)*"]
            }
            var bins: [String] = []
            if c.has("src/main.rs"), let package { bins.append(package) }
            bins += c.tree.list("src/bin").filter { $0.hasSuffix(".rs") }.map { String($0.dropLast(3)) }
            build.append("cargo build --release")
            build += bins.map { "cp target/release/\($0) bin" }
            if bins.count == 1 {
                start = "./bin/\(bins[0])"
            } else if let chosen = c.railpack("RUST_BIN") ?? TOML.value(in: cargo, section: "package", key: "default-run") {
                start = "./bin/\(chosen)"
            }
        }
        return BuildPlan(provider: name, packageManager: "cargo", runtimeVersion: version, install: install, build: build,
                         start: start, tools: ["rust": version], installFiles: ["Cargo.toml", "Cargo.lock"].filter(c.has),
                         variables: ["ROCKET_ADDRESS": "0.0.0.0"], caches: ["/root/.cargo/registry", "/app/target"])
    }

    /// RAILPACK_CARGO_WORKSPACE, else the first member (default-members first) that builds a binary.
    func workspaceMember(_ c: Context, _ cargo: String) -> String? {
        if let chosen = c.railpack("CARGO_WORKSPACE") { return chosen }
        let members = TOML.array(in: cargo, section: "workspace", key: "default-members")
            + TOML.array(in: cargo, section: "workspace", key: "members")
        for member in members {
            let manifest = c.read("\(member)/Cargo.toml") ?? ""
            let binary = c.has("\(member)/src/main.rs") || c.has("\(member)/src/bin") || manifest.contains("[[bin]]") || !c.has("\(member)/src/lib.rs")
            if binary { return TOML.value(in: manifest, section: "package", key: "name") ?? (member as NSString).lastPathComponent }
        }
        return nil
    }
}
