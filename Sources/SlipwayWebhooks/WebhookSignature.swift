import Crypto
import Foundation
import SlipwayCore

/// HMAC-SHA256 webhook signatures (`X-Hub-Signature-256: sha256=<hex>` and the same
/// form in Bitbucket's `X-Hub-Signature`), compared in constant time.
public enum WebhookSignature {
    public static func sign(body: some DataProtocol, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// True only when `header` is `sha256=` followed by the hex HMAC of `body` under `secret`.
    public static func isValid(header: String?, body: some DataProtocol, secret: String) -> Bool {
        guard let header, header.hasPrefix("sha256="),
              let given = hexBytes(header.dropFirst("sha256=".count)), given.count == SHA256.byteCount else {
            return false
        }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: body,
                                                      using: SymmetricKey(data: Data(secret.utf8)))
    }

    /// True only when `header` is `sha256=` followed by the hex form of `code` (an HMAC computed
    /// as the body streamed in), compared in constant time.
    public static func matches(header: String, code: [UInt8]) -> Bool {
        guard header.hasPrefix("sha256="), let given = hexBytes(header.dropFirst("sha256=".count)), given.count == code.count else {
            return false
        }
        var difference: UInt8 = 0
        for (a, b) in zip(given, code) { difference |= a ^ b }
        return difference == 0
    }

    /// Compares two tokens (GitLab's `X-Gitlab-Token`) without leaking where they differ.
    public static func tokensEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference: UInt8 = 0
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        // Lengths compared on their own: folding them into a byte would let lengths 256 apart pass.
        return difference == 0 && x.count == y.count
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

extension WebhookSignature {
    /// The header a provider proves its secret with.
    public static func header(for provider: NormalizedEvent.Provider) -> String {
        switch provider {
        case .github: "X-Hub-Signature-256"
        case .gitlab: "X-Gitlab-Token"
        case .bitbucket, .bitbucketServer, .poll: "X-Hub-Signature"
        }
    }

    /// Whether the request carries proof of `secret`: GitHub's and Bitbucket's HMAC of
    /// the body, GitLab's token itself.
    public static func verify(provider: NormalizedEvent.Provider, headers: WebhookHeaders, body: some DataProtocol,
                              secret: String) -> Bool {
        let value = headers[header(for: provider)]
        switch provider {
        case .gitlab: return value.map { tokensEqual($0, secret) } ?? false
        default: return isValid(header: value, body: body, secret: secret)
        }
    }
}
