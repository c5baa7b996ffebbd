/// What zero-config detection decided: the `slipway detect --json` contract (`provider`,
/// `packageManager`, `runtimeVersion`, `install`, `build`, `start`) and what the
/// Dockerfile needs besides.
public struct BuildPlan: Sendable, Hashable, Codable {
    /// Railpack's provider name, lower-case; nil when nothing was detected.
    public var provider: String?
    public var packageManager: String?
    public var runtimeVersion: String?
    /// Shell commands of the install step, in order.
    public var install: [String]
    public var build: [String]
    public var start: String?

    /// Tool → requested version (node 20, pnpm 9, …), after every precedence rule.
    public var tools: [String: String]
    /// What the build image lacks and the install needs (a package manager), run first.
    /// Railpack gets these from mise; a Dockerfile on the official images installs them.
    public var setup: [String]
    /// Files install needs, copied before it runs (good layer caching); ["."] means all.
    public var installFiles: [String]
    /// Environment of the running app.
    public var variables: [String: String]
    /// Folders put first on PATH (a virtualenv's bin, node_modules/.bin).
    public var paths: [String]
    /// Package-manager caches: folders to mount as BuildKit caches during install and build.
    public var caches: [String]
    /// A single-page app or a static site: only this folder is served (by Caddy).
    public var staticRoot: String?

    public init(provider: String?, packageManager: String? = nil, runtimeVersion: String? = nil, install: [String] = [],
                build: [String] = [], start: String? = nil, tools: [String: String] = [:], setup: [String] = [],
                installFiles: [String] = ["."],
                variables: [String: String] = [:], paths: [String] = [], caches: [String] = [], staticRoot: String? = nil) {
        self.paths = paths
        self.provider = provider
        self.packageManager = packageManager
        self.runtimeVersion = runtimeVersion
        self.install = install
        self.build = build
        self.start = start
        self.tools = tools
        self.setup = setup
        self.installFiles = installFiles
        self.variables = variables
        self.caches = caches
        self.staticRoot = staticRoot
    }

    enum CodingKeys: String, CodingKey {
        case provider, packageManager, runtimeVersion, install, build, start, tools, setup, installFiles, variables, paths, caches, staticRoot
    }

    /// Every key, `null` where there is no value, contract keys first.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(provider, forKey: .provider)
        try c.encode(packageManager, forKey: .packageManager)
        try c.encode(runtimeVersion, forKey: .runtimeVersion)
        try c.encode(install, forKey: .install)
        try c.encode(build, forKey: .build)
        try c.encode(start, forKey: .start)
        try c.encode(tools, forKey: .tools)
        try c.encode(setup, forKey: .setup)
        try c.encode(installFiles, forKey: .installFiles)
        try c.encode(variables, forKey: .variables)
        try c.encode(paths, forKey: .paths)
        try c.encode(caches, forKey: .caches)
        try c.encode(staticRoot, forKey: .staticRoot)
    }
}
