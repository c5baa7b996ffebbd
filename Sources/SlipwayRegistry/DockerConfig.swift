import Foundation
import SlipwayCore

/// The `auths` of `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`): base64
/// `user:password` per registry host. Credential helpers are not run.
public struct DockerConfig: Sendable {
    public var logins: [String: RegistryLogin]

    public init(json: Data) {
        var logins: [String: RegistryLogin] = [:]
        let object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] ?? [:]
        for (key, value) in object["auths"] as? [String: Any] ?? [:] {
            guard let entry = value as? [String: Any] else { continue }
            var credentials: RegistryLogin?
            if let auth = entry["auth"] as? String, let data = Data(base64Encoded: auth),
               let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") {
                credentials = RegistryLogin(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            } else if let user = entry["username"] as? String, let password = entry["password"] as? String {
                credentials = RegistryLogin(username: user, password: password)
            }
            if let credentials { logins[Self.host(key)] = credentials }
        }
        self.logins = logins
    }

    /// `https://index.docker.io/v1/` → `index.docker.io`; `127.0.0.1:5000` stays.
    static func host(_ key: String) -> String {
        var text = key
        for prefix in ["https://", "http://"] where text.hasPrefix(prefix) { text = String(text.dropFirst(prefix.count)) }
        return String(text.split(separator: "/").first ?? Substring(text))
    }

    /// The file `docker login` writes, read when it exists.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) -> DockerConfig {
        let folder = environment["DOCKER_CONFIG"] ?? "\(environment["HOME"] ?? NSHomeDirectory())/.docker"
        let data = FileManager.default.contents(atPath: "\(folder)/config.json") ?? Data("{}".utf8)
        return DockerConfig(json: data)
    }

    public func credentials(for host: String) -> RegistryLogin? {
        logins[host] ?? (host == "docker.io" ? logins["index.docker.io"] : nil)
    }
}
