import Foundation
import SlipwayDocker

/// Turns the engine's build stream into the plain log people know from
/// `docker build --progress=plain`: `#3 [2/3] RUN make`, its output, `#3 DONE 1.2s`.
/// A value type fed line by line; it remembers vertex numbers and what it already printed.
public struct BuildProgress: Sendable {
    private var numbers: [String: Int] = [:]
    private var announced: Set<String> = []
    private var finished: Set<String> = []
    private var partial: [String: String] = [:]

    /// Steps that changed since `takeSteps` was last called.
    private var pendingSteps: [BuildStep] = []

    /// The error the build ended with, if any.
    public private(set) var error: String?
    /// The image id BuildKit reported (`moby.image.id`).
    public private(set) var imageID: String?

    public init() {}

    /// Log lines for one line of `buildctl --progress rawjson`; other text (buildctl's own
    /// messages, an error at the end) passes through as it is.
    public mutating func consumeRawJSON(_ line: Data) -> [String] {
        guard line.first == UInt8(ascii: "{"), let status = try? BuildKitStatus(rawJSON: line) else {
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasPrefix("error:") || text.hasPrefix("ERROR:") { error = text.drop { $0 != ":" }.dropFirst().trimmingCharacters(in: .whitespaces) }
            return text.isEmpty ? [] : [text]
        }
        for vertex in status.vertexes where !vertex.error.isEmpty { error = vertex.error }
        return render(status)
    }

    /// Log lines for one line of the engine's answer.
    public mutating func consume(_ line: Data) -> [String] {
        let parsed = DockerStreamLine(line)
        if let message = parsed.error {
            error = message
            return ["ERROR: \(message)"]
        }
        if parsed.id == "moby.image.id", let id = parsed.auxImageID {
            imageID = id
            return []
        }
        if parsed.id == "moby.buildkit.trace", let aux = parsed.auxString {
            guard let status = try? BuildKitStatus(base64: aux) else { return [] }
            return render(status)
        }
        if let stream = parsed.stream {
            return stream.lines.filter { !$0.isEmpty }
        }
        return []
    }

    mutating func render(_ status: BuildKitStatus) -> [String] {
        var out: [String] = []
        for vertex in status.vertexes where !vertex.name.isEmpty {
            let n = number(for: vertex.digest)
            if vertex.started != nil || vertex.cached, !announced.contains(vertex.digest) {
                announced.insert(vertex.digest)
                out.append("#\(n) \(vertex.name)")
                if !vertex.cached { pendingSteps.append(BuildStep(number: n, name: vertex.name, state: .started)) }
            }
            guard !finished.contains(vertex.digest) else { continue }
            if !vertex.error.isEmpty {
                finished.insert(vertex.digest)
                out += flush(vertex.digest, n)
                out.append("#\(n) ERROR: \(vertex.error)")
                let seconds = vertex.started.flatMap { start in vertex.completed.map { $0.timeIntervalSince(start) } }
                pendingSteps.append(BuildStep(number: n, name: vertex.name, state: .error, seconds: seconds, error: vertex.error))
            } else if vertex.cached {
                finished.insert(vertex.digest)
                out.append("#\(n) CACHED")
                pendingSteps.append(BuildStep(number: n, name: vertex.name, state: .cached))
            } else if let completed = vertex.completed {
                finished.insert(vertex.digest)
                out += flush(vertex.digest, n)
                let seconds = vertex.started.map { completed.timeIntervalSince($0) } ?? 0
                out.append("#\(n) DONE \(String(format: "%.1f", seconds))s")
                pendingSteps.append(BuildStep(number: n, name: vertex.name, state: .done, seconds: seconds))
            }
        }
        for log in status.logs {
            let n = number(for: log.vertex)
            var text = (partial[log.vertex] ?? "") + String(decoding: log.message, as: UTF8.self)
            var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
            text = lines.removeLast()   // an unterminated line waits for the rest
            partial[log.vertex] = text.isEmpty ? nil : text
            out += lines.map { "#\(n) \($0)" }
        }
        return out
    }

    /// The step changes seen since the last call, in order.
    public mutating func takeSteps() -> [BuildStep] {
        defer { pendingSteps = [] }
        return pendingSteps
    }

    private mutating func flush(_ digest: String, _ n: Int) -> [String] {
        guard let rest = partial.removeValue(forKey: digest) else { return [] }
        return ["#\(n) \(rest)"]
    }

    private mutating func number(for digest: String) -> Int {
        if let n = numbers[digest] { return n }
        let n = numbers.count + 1
        numbers[digest] = n
        return n
    }
}
