/// Why a webhook body could not become an event. The description is safe to return to the sender.
public struct WebhookError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Not JSON, or JSON without the fields the event must have.
        case malformed
        /// Headers name no provider Slipway knows.
        case unknownProvider
    }

    public let kind: Kind
    public let message: String

    public var description: String { message }

    static func malformed(_ message: String) -> WebhookError { WebhookError(kind: .malformed, message: message) }
}
