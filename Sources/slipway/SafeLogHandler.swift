import Logging
import SlipwayCore

/// Log lines as `Terminal.printable` makes them: a payload field or a build's output quoted in
/// a message or its metadata cannot move the cursor of whoever tails the log, or split a line.
struct SafeLogHandler: LogHandler {
    var wrapped: any LogHandler

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue.mapValues(Self.clean) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue.map(Self.clean) }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = "\(Terminal.printable(event.message.description))"
        event.metadata = event.metadata?.mapValues(Self.clean)
        wrapped.log(event: event)
    }

    static func clean(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(Terminal.printable(text))
        case .stringConvertible(let convertible): .string(Terminal.printable(convertible.description))
        case .array(let values): .array(values.map(clean))
        case .dictionary(let values): .dictionary(values.mapValues(clean))
        }
    }
}
