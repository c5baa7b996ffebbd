import Foundation

/// CloudWatch Logs, read for the last lines of a crashed task.
public struct LogsAPI: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    /// The last `lines` messages of one stream, oldest first.
    public func tail(group: String, stream: String, lines: Int) async throws -> [String] {
        let body: [String: Any] = ["logGroupName": group, "logStreamName": stream, "limit": lines, "startFromHead": false]
        let data = try await client.call(.logs, "GetLogEvents", body: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        let answer = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return (answer["events"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
            .map { $0.hasSuffix("\n") ? String($0.dropLast()) : $0 }
    }

    /// The stream the awslogs driver writes a task's container to.
    public static func stream(prefix: String, container: String, taskARN: String) -> String {
        "\(prefix)/\(container)/\(taskARN.split(separator: "/").last.map(String.init) ?? taskARN)"
    }
}
