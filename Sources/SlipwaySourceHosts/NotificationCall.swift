import Crypto
import Foundation
import SlipwayCore

/// The HTTP request of one notification: Slack's incoming webhook takes the Block Kit JSON as
/// is; a generic webhook also gets `X-Slipway-Event`, `X-Slipway-Delivery` (the same id on
/// every retry, for the receiver to drop repeats) and `X-Slipway-Signature: sha256=HEX`, the
/// HMAC-SHA256 of the exact body bytes under the channel's secret.
public enum NotificationCall {
    public static func make(kind: NotifyChannel.Kind, url: String, body: [UInt8], event: NotifyEvent, delivery: String,
                            secret: String?) -> APICall {
        var headers = [("Content-Type", "application/json"), ("User-Agent", "Slipway")]
        if kind == .webhook {
            headers.append(("X-Slipway-Event", event.rawValue))
            headers.append(("X-Slipway-Delivery", delivery))
            if let secret { headers.append(("X-Slipway-Signature", signature(body, secret: secret))) }
        }
        return APICall(method: "POST", url: url, headers: headers, body: Data(body))
    }

    /// `sha256=` and the lowercase hex HMAC, as GitHub signs its webhooks (receivers reuse that code).
    public static func signature(_ body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}
