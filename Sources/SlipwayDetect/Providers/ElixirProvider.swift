import Foundation

struct ElixirProvider: Provider {
    let name = "elixir"

    func detect(_ c: Context) -> Bool { c.has("mix.exs") }

    static let otpByElixir = ["1.17": "27", "1.18": "27", "1.19": "28"]

    func plan(_ c: Context) -> BuildPlan {
        let mix = c.read("mix.exs") ?? ""
        var elixir = "1.18"
        if let v = Pattern.first(mix, #"elixir:\s*"~>\s*([0-9][0-9.]*)""#) { elixir = v }
        if let file = c.read(".elixir-version")?.trimmingCharacters(in: .whitespacesAndNewlines), !file.isEmpty { elixir = file }
        if let env = c.railpack("ELIXIR_VERSION") { elixir = Versions.fuzzy(env) }
        if let mise = c.miseVersion("elixir") { elixir = mise }

        var erlang = "27.3"
        let minor = elixir.split(separator: ".").prefix(2).joined(separator: ".")
        if let otp = Self.otpByElixir[minor] { erlang = otp }
        if let otp = Pattern.first(elixir, #"-otp-([0-9]+)"#) { erlang = otp }
        if let file = c.read(".erlang-version")?.trimmingCharacters(in: .whitespacesAndNewlines), !file.isEmpty { erlang = file }
        if let env = c.railpack("ERLANG_VERSION") { erlang = Versions.fuzzy(env) }
        if let mise = c.miseVersion("erlang") { erlang = mise }

        var install = ["mkdir -p config deps _build", "mix local.hex --force", "mix local.rebar --force",
                       "mix deps.get --only prod", "mix deps.compile"]
        if mix.contains("assets.setup") { install.append("mix assets.setup") }
        var build = ["mix compile"]
        if mix.contains("assets.deploy") { build.append("mix assets.deploy") }
        if mix.contains("ecto.deploy") { build.append("mix ecto.deploy") }
        build.append("mix release")
        let app = Pattern.first(mix, #"app:\s*:([a-zA-Z0-9_]+)"#)
        return BuildPlan(provider: name, packageManager: "mix", runtimeVersion: elixir, install: install, build: build,
                         start: app.map { "/app/_build/prod/rel/\($0)/bin/\($0) start" },
                         tools: ["elixir": elixir, "erlang": erlang], installFiles: ["mix.exs", "mix.lock", "config"].filter(c.has),
                         variables: ["MIX_ENV": "prod", "LANG": "en_US.UTF-8", "LC_ALL": "en_US.UTF-8", "ELIXIR_ERL_OPTIONS": "+fnu",
                                     "MIX_HOME": "/root/.mix"],
                         caches: ["/root/.hex", "/root/.mix"])
    }
}
