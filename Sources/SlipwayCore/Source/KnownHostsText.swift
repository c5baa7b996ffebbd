import Foundation

/// The shape of OpenSSH `known_hosts` text, checked where a policy or setting names it, so a
/// garbled line is reported at once rather than as "unknown host key" at the first fetch.
public enum KnownHostsText {
    /// What is wrong with `text`, or nil: each line is `HOSTS KEYTYPE BASE64 [comment]`, with an
    /// optional `@revoked`/`@cert-authority` marker; `#` comments and blank lines are allowed.
    public static func problem(_ text: String) -> String? {
        var entries = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.first?.hasPrefix("@") == true {
                guard ["@revoked", "@cert-authority"].contains(fields.first!) else {
                    return "line \(index + 1) starts with `\(fields.first!)`; the only markers are @revoked and @cert-authority"
                }
                fields.removeFirst()
            }
            guard fields.count >= 3 else {
                return "line \(index + 1) is not `HOST KEYTYPE KEY`, as `ssh-keyscan HOST` prints it"
            }
            guard fields[1].hasPrefix("ssh-") || fields[1].hasPrefix("ecdsa-") || fields[1].hasPrefix("sk-") else {
                return "line \(index + 1): `\(fields[1])` is not a key type (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, …)"
            }
            guard let key = Data(base64Encoded: String(fields[2])), !key.isEmpty else {
                return "line \(index + 1): the key is not base64, as `ssh-keyscan HOST` prints it"
            }
            entries += 1
        }
        return entries == 0 ? "no host key lines; paste what `ssh-keyscan HOST` prints" : nil
    }
}
