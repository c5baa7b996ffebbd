/// Which image each stage starts from. Keys are tools (`node`, `python`, …) and runtime
/// roles (`runtime` for compiled binaries, `java-runtime`, `dotnet-runtime`, `caddy`,
/// `shell`); values are image references where `{version}` is replaced by the plan's
/// version of that tool. The defaults are the official images; a policy's
/// `build.baseImages` or SLIPWAY_BASE_IMAGES points them at a private mirror.
import SlipwayCore

public struct BaseImages: Sendable, Hashable {
    public var images: [String: String]

    public static var defaults: [String: String] { BaseImageDefaults.images }

    public init(_ overrides: [String: String] = [:]) {
        images = Self.defaults.merging(overrides) { $1 }
    }

    /// `node=registry.internal/node:{version},python=…` (SLIPWAY_BASE_IMAGES).
    public static func parse(_ text: String) -> [String: String] { BaseImageDefaults.parse(text) }

    /// The image for `key`; `latest`/`lts` versions take the image's own default tag words.
    public func image(_ key: String, version: String?) -> String {
        let template = images[key] ?? images["runtime"]!
        guard template.contains("{version}") else { return template }
        var v = version ?? "latest"
        if v == "lts" { v = key == "node" ? "lts" : "latest" }
        if v == "latest", template.contains("{version}-") {
            // `node:{version}-bookworm-slim` with latest → `node:bookworm-slim`.
            return template.replacingOccurrences(of: "{version}-", with: "")
        }
        return template.replacingOccurrences(of: "{version}", with: v)
    }
}
