/// The images zero-config builds start from, by tool (`node`, `python`, …) or runtime
/// role (`runtime` for compiled binaries, `java-runtime`, `dotnet-runtime`, `caddy`,
/// `shell`). `{version}` is replaced by the plan's version of that tool. The official
/// images by default; `build.baseImages` in a policy or SLIPWAY_BASE_IMAGES point them
/// at a mirror.
public enum BaseImageDefaults {
    public static let images: [String: String] = [
        "node": "node:{version}-bookworm-slim",
        "bun": "oven/bun:{version}",
        "python": "python:{version}-slim-bookworm",
        "go": "golang:{version}-bookworm",
        "java": "eclipse-temurin:{version}-jdk",
        "java-runtime": "eclipse-temurin:{version}-jre",
        "maven": "maven:3-eclipse-temurin-{version}",
        "rust": "rust:{version}-bookworm",
        "ruby": "ruby:{version}-slim-bookworm",
        "elixir": "elixir:{version}",
        "php": "dunglas/frankenphp:php{version}-trixie",
        "deno": "denoland/deno:{version}",
        "dotnet": "mcr.microsoft.com/dotnet/sdk:{version}",
        "dotnet-runtime": "mcr.microsoft.com/dotnet/aspnet:{version}",
        "gleam": "ghcr.io/gleam-lang/gleam:{version}-erlang",
        "cpp": "gcc:14-bookworm",
        "caddy": "caddy:2",
        "runtime": "debian:bookworm-slim",
        "shell": "debian:bookworm-slim",
    ]

    public static var keys: [String] { images.keys.sorted() }

    /// `node=mirror.internal/node:{version},python=…` (SLIPWAY_BASE_IMAGES).
    public static func parse(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty { out[parts[0]] = parts[1] }
        }
        return out
    }
}
