import Foundation

struct NodeProvider: Provider {
    let name = "node"

    func detect(_ c: Context) -> Bool { c.hasAny(["package.json", "package.json5"]) }

    enum PackageManager: String { case npm, pnpm, bun, yarn1, yarnberry
        var command: String { self == .yarn1 || self == .yarnberry ? "yarn" : rawValue }
    }

    struct Package {
        let json: [String: Any]
        var scripts: [String: String] { json["scripts"] as? [String: String] ?? [:] }
        var engines: [String: String] { json["engines"] as? [String: String] ?? [:] }
        var packageManagerField: String? { json["packageManager"] as? String }
        var dependencies: [String: String] {
            (json["dependencies"] as? [String: String] ?? [:]).merging(json["devDependencies"] as? [String: String] ?? [:]) { a, _ in a }
        }
        func has(_ dependency: String) -> Bool { dependencies[dependency] != nil }
    }

    func packageManager(_ c: Context, _ p: Package) -> PackageManager {
        if let field = p.packageManagerField {
            let (tool, version) = Self.split(field)
            switch tool {
            case "yarn": return version.hasPrefix("1") ? .yarn1 : .yarnberry
            case "pnpm": return .pnpm
            case "npm": return .npm
            case "bun": return .bun
            default: break
            }
        }
        if c.has("pnpm-lock.yaml") { return .pnpm }
        if c.hasAny(["bun.lockb", "bun.lock"]) { return .bun }
        if c.hasAny([".yarnrc.yml", ".yarnrc.yaml"]) { return .yarnberry }
        if c.has("yarn.lock") { return .yarn1 }
        if p.engines["pnpm"] != nil { return .pnpm }
        if p.engines["bun"] != nil { return .bun }
        if p.engines["yarn"] != nil { return .yarn1 }
        return .npm
    }

    /// `pnpm@8.15.0+sha…` → ("pnpm", "8.15.0").
    static func split(_ field: String) -> (String, String) {
        let parts = field.split(separator: "@", maxSplits: 1).map(String.init)
        let version = parts.count == 2 ? String(parts[1].split(separator: "+").first ?? "") : ""
        return (parts[0], version)
    }

    func plan(_ c: Context) -> BuildPlan {
        let p = Package(json: c.json("package.json") ?? [:])
        let pm = packageManager(c, p)
        let corepack = p.packageManagerField != nil && pm != .bun
        var tools: [String: String] = [:]

        // Node: lts → engines.node → RAILPACK_NODE_VERSION → the app's mise files (they beat the env).
        var node = "lts"
        if let engine = p.engines["node"] { node = Versions.fuzzy(engine) }
        if let env = c.railpack("NODE_VERSION") { node = Versions.fuzzy(env) }
        if let mise = c.miseVersion("node") { node = mise }

        let fieldVersion = p.packageManagerField.map { Self.split($0) }
        switch pm {
        case .pnpm where !corepack:
            var version = "9"
            if let lock = c.read("pnpm-lock.yaml"), let v = Self.pnpmMajor(lockfile: lock) { version = v }
            if let engine = p.engines["pnpm"] { version = Versions.fuzzy(engine) }
            tools["pnpm"] = version
        case .yarn1 where !corepack, .yarnberry where !corepack:
            var version = pm == .yarn1 ? "1" : "2"
            if let engine = p.engines["yarn"] { version = Versions.fuzzy(engine) }
            tools["yarn"] = version
        case .bun:
            var version = "latest"
            if let engine = p.engines["bun"] { version = Versions.fuzzy(engine) }
            if let field = fieldVersion, field.0 == "bun", !field.1.isEmpty { version = field.1 }
            if let env = c.railpack("BUN_VERSION") { version = Versions.fuzzy(env) }
            tools["bun"] = version
        default:
            break
        }

        let scripts = p.scripts
        let startScript = c.config.startCommand ?? c.railpack("START_CMD")
        let usesBun = pm == .bun || (scripts.values + [startScript].compactMap { $0 }).contains { Self.mentionsBun($0) }
        if usesBun, tools["bun"] == nil { tools["bun"] = "latest" }
        let omitNode = pm == .bun && p.packageManagerField == nil && !scripts.values.contains { $0.contains("node") }
            && !p.has("astro") && !p.has("vite") && p.dependencies.isEmpty
        if !omitNode { tools["node"] = node }

        var install: [String] = []
        if corepack { install.append("npm i -g corepack@latest && corepack enable && corepack prepare --activate") }
        install.append("mkdir -p /app/node_modules/.cache")
        switch pm {
        case .npm: install.append(c.railpack("NODE_NPM_INSTALL") ?? "npm install")
        case .pnpm:
            if !corepack { install.append("pnpm add -g node-gyp") }
            install.append(c.has("pnpm-lock.yaml") ? "pnpm install --frozen-lockfile --prefer-offline" : "pnpm install")
        case .bun: install.append("bun install --frozen-lockfile")
        case .yarn1: install.append("yarn install --frozen-lockfile")
        case .yarnberry: install.append("yarn install --check-cache")
        }

        let build = scripts["build"] != nil ? ["\(pm.command) run build"] : []
        var start: String?
        if scripts["start"] != nil {
            start = "\(pm.command) run start"
        } else if let main = p.json["main"] as? String, !main.isEmpty {
            start = "\(pm == .bun ? "bun" : "node") \(main)"
        } else if let index = ["index.js", "index.ts"].first(where: c.has) {
            start = "\(pm == .bun ? "bun" : "node") \(index)"
        } else if p.has("nuxt") {
            start = "node .output/server/index.mjs"
        } else if p.has("@tanstack/react-start") {
            let runner = pm == .pnpm ? "pnpm exec" : pm == .bun ? "bunx" : "npx"
            start = "\(runner) srvx --prod -s ../client dist/server/server.js"
        } else if p.has("@sveltejs/kit"), p.has("@sveltejs/adapter-auto") {
            start = "node build"
        }

        var variables = ["NODE_ENV": "production", "NPM_CONFIG_PRODUCTION": "false", "NPM_CONFIG_UPDATE_NOTIFIER": "false",
                         "NPM_CONFIG_FUND": "false", "NPM_CONFIG_FETCH_RETRIES": "5", "CI": "true"]
        if pm == .yarn1 { variables["YARN_PRODUCTION"] = "false" }

        // The node image brings npm, yarn 1 and corepack; anything else is installed first.
        var setup: [String] = []
        switch pm {
        case .pnpm where !corepack: setup.append("npm i -g pnpm@\(tools["pnpm"] ?? "9")")
        case .yarnberry where !corepack: setup.append("corepack enable && corepack prepare yarn@stable --activate")
        case .bun where !omitNode: setup.append("npm i -g bun@\(tools["bun"] ?? "latest")")
        default: break
        }
        var plan = BuildPlan(provider: name, packageManager: pm.command, runtimeVersion: omitNode ? tools["bun"] : node,
                             install: install, build: build, start: start, tools: tools, setup: setup,
                             installFiles: installFiles(c, p), variables: variables, paths: ["/app/node_modules/.bin"],
                             caches: caches(pm))
        if let output = SinglePageApp.outputDirectory(c, package: p, customStart: customStart(c, scripts)) {
            plan.start = SinglePageApp.caddyStart
            plan.staticRoot = output
        }
        return plan
    }

    /// The `install:node` and `build:node` steps other providers add when the app has a
    /// package.json (Rails or Laravel assets): the same commands node itself would run.
    static func companion(_ c: Context) -> (install: [String], build: [String], tools: [String: String])? {
        guard c.has("package.json") else { return nil }
        let plan = NodeProvider().plan(c)
        return (plan.install, plan.build, plan.tools)
    }

    /// A start command the user chose (dev servers do not count: they are what an SPA replaces).
    func customStart(_ c: Context, _ scripts: [String: String]) -> Bool {
        let devServers = ["ng serve", "react-scripts start", "expo start", "next start", "react-router-serve ./build/server/index.js"]
        if c.config.startCommand != nil || c.railpack("START_CMD") != nil { return true }
        guard let start = scripts["start"] else { return false }
        return !devServers.contains { start.contains($0) }
    }

    static func mentionsBun(_ script: String) -> Bool {
        script.range(of: #"(^|\s|;|&|\|)bunx?\s"#, options: .regularExpression) != nil
    }

    static func pnpmMajor(lockfile: String) -> String? {
        guard let line = lockfile.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("lockfileVersion") }) else { return nil }
        let value = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: [" ", "'", "\""]) } ?? ""
        switch value {
        case "5.3": return "6"
        case "5.4": return "7"
        case _ where value.hasPrefix("6."): return "8"
        case _ where value.hasPrefix("9."): return "9"
        default: return nil
        }
    }

    /// Manifests, lockfiles and what install reads; the whole source when a script or a
    /// `file:` dependency needs it.
    func installFiles(_ c: Context, _ p: Package) -> [String] {
        let hooks = ["preinstall", "postinstall", "prepare"].contains { p.scripts[$0] != nil }
        if hooks || p.dependencies.values.contains(where: { $0.hasPrefix("file:") }) { return ["."] }
        let candidates = ["package.json", "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "pnpm-workspace.yaml",
                          "yarn.lock", ".yarnrc.yml", ".yarnrc.yaml", ".yarnrc", ".npmrc", "bun.lockb", "bun.lock",
                          ".yarn", "patches", "prisma"]
        return candidates.filter(c.has)
    }

    func caches(_ pm: PackageManager) -> [String] {
        switch pm {
        case .npm: ["/root/.npm"]
        case .pnpm: ["/root/.local/share/pnpm/store"]
        case .bun: ["/root/.bun/install/cache"]
        case .yarn1: ["/usr/local/share/.cache/yarn"]
        case .yarnberry: ["/app/.yarn/cache"]
        }
    }
}

/// Single-page apps: a framework build whose output is static is served by Caddy.
enum SinglePageApp {
    static let caddyStart = "caddy run --config /Caddyfile --adapter caddyfile 2>&1"

    static func outputDirectory(_ c: Context, package p: NodeProvider.Package, customStart: Bool) -> String? {
        guard !c.truthy("NO_SPA"), c.railpack("NO_SPA") == nil else { return nil }
        if let forced = c.railpack("SPA_OUTPUT_DIR") { return forced }
        guard !customStart, let build = p.scripts["build"] else { return nil }
        let config = { (names: [String]) in names.compactMap(c.read).first }
        // React Router first: a static build only with `ssr: false`.
        let routerConfig = config(["react-router.config.js", "react-router.config.ts"])
        if routerConfig != nil || build.contains("react-router build") || p.has("@react-router/dev") {
            guard let routerConfig, Pattern.first(routerConfig, #"ssr:\s*(false)"#) != nil else { return nil }
            return Pattern.first(routerConfig, #"buildDirectory:\s*['"]([^'"]+)['"]"#) ?? "build/client/"
        }
        if p.has("vite"), !p.has("@sveltejs/kit"), !p.has("@tanstack/react-start") {
            let file = config(["vite.config.js", "vite.config.ts", "vite.config.mjs", "vite.config.mts"])
            if file != nil || build.contains("vite build") {
                return Pattern.first(file, #"outDir:\s*['"]([^'"]+)['"]"#) ?? Pattern.first(build, #"--outDir\s+(\S+)"#) ?? "dist"
            }
        }
        if let file = config(["astro.config.mjs", "astro.config.ts"]), build.contains("astro build"),
           Pattern.first(file, #"output:\s*['"](server)['"]"#) == nil,
           !["@astrojs/node", "@astrojs/vercel", "@astrojs/cloudflare", "@astrojs/netlify"].contains(where: p.has) {
            return Pattern.first(file, #"outDir:\s*['"]([^'"]+)['"]"#) ?? "dist"
        }
        if p.has("next"), let file = config(["next.config.js", "next.config.mjs", "next.config.ts"]),
           Pattern.first(file, #"output:\s*['"](export)['"]"#) != nil {
            return Pattern.first(file, #"distDir:\s*['"]([^'"]+)['"]"#) ?? "out"
        }
        if p.has("react-scripts"), build.contains("react-scripts build") { return "build" }
        if p.has("@angular/core"), build.contains("ng build"), let angular = c.json("angular.json") {
            return angularOutput(angular, project: c.railpack("ANGULAR_PROJECT"))
        }
        if p.has("expo"), p.has("react-native-web"),
           let output = ((c.json("app.json")?["expo"] as? [String: Any])?["web"] as? [String: Any])?["output"] as? String,
           output == "static" || output == "single" {
            return "dist"
        }
        return nil
    }

    /// `outputPath` of the project's build target (`/browser` below it for the application builder).
    static func angularOutput(_ angular: [String: Any], project named: String?) -> String? {
        let projects = angular["projects"] as? [String: Any] ?? [:]
        guard let name = named ?? projects.keys.sorted().first, let project = projects[name] as? [String: Any] else { return nil }
        let build = (project["architect"] as? [String: Any])?["build"] as? [String: Any]
        let options = build?["options"] as? [String: Any]
        var output = options?["outputPath"] as? String ?? (options?["outputPath"] as? [String: Any])?["base"] as? String ?? "dist/\(name)"
        if let builder = build?["builder"] as? String, builder.hasSuffix(":application") { output += "/browser" }
        return output
    }
}
