import Foundation

struct PHPProvider: Provider {
    let name = "php"

    func detect(_ c: Context) -> Bool { c.hasAny(["index.php", "composer.json"]) }

    func plan(_ c: Context) -> BuildPlan {
        var version = "8.4"
        if let require = (c.json("composer.json")?["require"] as? [String: Any])?["php"] as? String {
            // `^8.3` asks for 8.3 (the image tags are minor versions); `>=8.1`, `~8.2` as everywhere.
            version = Versions.fuzzy(require.replacingOccurrences(of: "^", with: ""))
        }
        var install = c.has("composer.json") ? ["composer install --optimize-autoloader --no-scripts --no-interaction"] : []
        var build: [String] = []
        var tools = ["php": version]
        if let node = NodeProvider.companion(c) {
            install += node.install
            build += node.build
            tools.merge(node.tools) { a, _ in a }
        }
        if c.has("artisan") {
            build += ["config", "event", "route", "view"].map { "php artisan \($0):cache" }
        }
        return BuildPlan(provider: name, packageManager: "composer", runtimeVersion: version, install: install, build: build,
                         start: "/start-container.sh", tools: tools,
                         setup: c.has("composer.json") ? ["command -v composer >/dev/null || (curl -fsSL https://getcomposer.org/installer | php -- --install-dir=/usr/local/bin --filename=composer)"] : [],
                         installFiles: ["composer.json", "composer.lock"].filter(c.has), caches: ["/root/.composer/cache"])
    }
}

struct DenoProvider: Provider {
    let name = "deno"

    func detect(_ c: Context) -> Bool { c.hasAny(["deno.json", "deno.jsonc"]) }

    func plan(_ c: Context) -> BuildPlan {
        var version = "2"
        if let mise = c.miseVersion("deno") { version = mise }
        if let env = c.railpack("DENO_VERSION") { version = Versions.fuzzy(env) }
        let extensions = ["ts", "js", "mjs", "mts"]
        let main = extensions.map { "main.\($0)" }.first(where: c.has)
            ?? c.tree.allFiles().first { file in extensions.contains { file.hasSuffix(".\($0)") } }
        return BuildPlan(provider: name, runtimeVersion: version, build: main.map { ["deno cache \($0)"] } ?? [],
                         start: main.map { "deno run --allow-all \($0)" }, tools: ["deno": version], caches: ["/root/.cache/deno"])
    }
}

struct DotnetProvider: Provider {
    let name = "dotnet"

    func detect(_ c: Context) -> Bool { c.tree.list("").contains { $0.hasSuffix(".csproj") } }

    func plan(_ c: Context) -> BuildPlan {
        let project = c.tree.list("").first { $0.hasSuffix(".csproj") } ?? "app.csproj"
        var version = "8.0"
        if let csproj = c.read(project), let v = Pattern.first(csproj, #"<TargetFramework>net(?:coreapp)?([0-9]+\.[0-9]+)"#) { version = v }
        if let sdk = (c.json("global.json")?["sdk"] as? [String: Any])?["version"] as? String { version = sdk }
        if let env = c.railpack("DOTNET_VERSION") { version = Versions.fuzzy(env) }
        if let mise = c.miseVersion("dotnet") { version = mise }
        let assembly = String(project.dropLast(".csproj".count))
        return BuildPlan(provider: name, packageManager: "dotnet", runtimeVersion: version,
                         install: ["mkdir -p /root/.nuget/packages", "dotnet restore"],
                         build: ["dotnet publish --no-restore -c Release -o out"],
                         start: "ASPNETCORE_URLS=http://0.0.0.0:${PORT:-3000} ./out/\(assembly)", tools: ["dotnet": version],
                         installFiles: [project, "global.json", "NuGet.config", "nuget.config"].filter(c.has),
                         variables: ["ASPNETCORE_ENVIRONMENT": "Production", "ASPNETCORE_CONTENTROOT": "/app/out",
                                     "DOTNET_CLI_TELEMETRY_OPTOUT": "1"],
                         caches: ["/root/.nuget/packages"])
    }
}

struct GleamProvider: Provider {
    let name = "gleam"

    func detect(_ c: Context) -> Bool { c.has("gleam.toml") }

    func plan(_ c: Context) -> BuildPlan {
        let gleam = c.miseVersion("gleam") ?? "latest"
        let erlang = c.miseVersion("erlang") ?? "latest"
        return BuildPlan(provider: name, packageManager: "gleam", runtimeVersion: gleam, build: ["gleam export erlang-shipment"],
                         start: "./build/erlang-shipment/entrypoint.sh run", tools: ["gleam": gleam, "erlang": erlang])
    }
}

struct CppProvider: Provider {
    let name = "cpp"

    func detect(_ c: Context) -> Bool { c.hasAny(["CMakeLists.txt", "meson.build"]) }

    func plan(_ c: Context) -> BuildPlan {
        // Railpack names the binary after the source folder (a quirk kept for the same plans).
        let binary = "/build/\(c.tree.rootName)"
        if c.has("CMakeLists.txt") {
            return BuildPlan(provider: name, packageManager: "cmake",
                             build: ["mkdir /build", "cmake -B /build -GNinja /app", "cmake --build /build"],
                             start: binary, tools: ["cmake": "latest", "ninja": "latest"],
                             setup: ["apt-get update && apt-get install -y --no-install-recommends cmake ninja-build"])
        }
        return BuildPlan(provider: name, packageManager: "meson", build: ["meson setup /build", "meson compile -C /build"],
                         start: binary, tools: ["meson": "latest", "ninja": "latest"],
                         setup: ["apt-get update && apt-get install -y --no-install-recommends meson ninja-build"])
    }
}

struct StaticfileProvider: Provider {
    let name = "staticfile"
    static let caddyStart = "caddy run --config Caddyfile --adapter caddyfile 2>&1"

    func detect(_ c: Context) -> Bool { root(c) != nil }

    /// `RAILPACK_STATIC_FILE_ROOT` → `Staticfile` root → `public` → `index.html` (the repository root).
    func root(_ c: Context) -> String? {
        if let root = c.railpack("STATIC_FILE_ROOT") { return root }
        if let text = c.read("Staticfile"), let root = Procfile.setting("root", in: text) { return root }
        if c.has("public") { return "public" }
        if c.has("index.html") { return "." }
        return nil
    }

    func plan(_ c: Context) -> BuildPlan {
        BuildPlan(provider: name, build: ["caddy fmt --overwrite Caddyfile"], start: Self.caddyStart,
                  tools: ["caddy": "2"], staticRoot: root(c) ?? ".")
    }
}

struct ShellProvider: Provider {
    let name = "shell"

    func script(_ c: Context) -> String? {
        if let named = c.railpack("SHELL_SCRIPT") { return c.has(named) ? named : nil }
        return c.has("start.sh") ? "start.sh" : nil
    }

    func detect(_ c: Context) -> Bool { script(c) != nil }

    func plan(_ c: Context) -> BuildPlan {
        let script = script(c) ?? "start.sh"
        let shebang = c.read(script)?.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let interpreter: String
        if shebang.hasPrefix("#!") {
            let words = shebang.dropFirst(2).split(separator: " ").map(String.init)
            let program = words.first.map { ($0 as NSString).lastPathComponent } ?? ""
            let named = program == "env" ? (words.dropFirst().first { !$0.hasPrefix("-") } ?? "") : program
            switch named {
            case "bash", "ksh", "mksh", "fish": interpreter = "bash"
            case "zsh": interpreter = "zsh"
            default: interpreter = "sh"
            }
        } else {
            interpreter = "sh"
        }
        return BuildPlan(provider: name, build: ["chmod +x \(script)"], start: "\(interpreter) \(script)",
                         tools: interpreter == "sh" ? [:] : [interpreter: "latest"])
    }
}
