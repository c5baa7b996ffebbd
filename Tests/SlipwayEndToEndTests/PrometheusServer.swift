import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import SlipwayTestSupport

/// A real Prometheus (Debian's `prometheus`) on loopback that scrapes one Slipway every
/// second and evaluates `deploy/observability/alerts.yml`; asked through its HTTP API.
final class PrometheusServer: @unchecked Sendable {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path
    let process: Process
    let url: String
    let directory: String

    private init(process: Process, url: String, directory: String) {
        self.process = process
        self.url = url
        self.directory = directory
    }

    static func start(scraping target: String) async throws -> PrometheusServer {
        let directory = try Scratch.directory("prometheus")
        let port = try Scratch.freePort()
        let host = URL(string: target)!
        try """
            global: { scrape_interval: 1s, evaluation_interval: 1s }
            rule_files: ["\(root)/deploy/observability/alerts.yml"]
            scrape_configs:
              - job_name: slipway
                static_configs: [{ targets: ["\(host.host!):\(host.port!)"] }]
            """.write(toFile: "\(directory)/prometheus.yml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = ["--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
                             "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        FileManager.default.createFile(atPath: "\(directory)/prometheus.log", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: "\(directory)/prometheus.log")
        try process.run()
        let server = PrometheusServer(process: process, url: "http://127.0.0.1:\(port)", directory: directory)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: server.url + "/-/ready"), timeout: .seconds(2)),
               response.status == .ok { return server }
            try await Task.sleep(for: .milliseconds(200))
        }
        server.stop()
        throw EndToEndError("Prometheus did not become ready in 30 s: \(server.log())")
    }

    func log() -> String { (try? String(contentsOfFile: "\(directory)/prometheus.log", encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    func api(_ path: String) async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url + path), timeout: .seconds(10))
        let body = Data(buffer: try await response.body.collect(upTo: 16 << 20))
        guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any], object["status"] as? String == "success" else {
            throw EndToEndError("Prometheus answered \(response.status) to \(path): \(String(decoding: body, as: UTF8.self))")
        }
        return object["data"] as? [String: Any] ?? [:]
    }

    /// The series an instant query returns, as (labels, value).
    func query(_ expression: String) async throws -> [(labels: [String: String], value: String)] {
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
        let data = try await api("/api/v1/query?query=\(encoded)")
        return (data["result"] as? [[String: Any]] ?? []).map { item in
            ((item["metric"] as? [String: String]) ?? [:], ((item["value"] as? [Any])?.last as? String) ?? "")
        }
    }

    /// Every alert rule loaded, with its health and last error.
    func rules() async throws -> [(name: String, health: String, error: String)] {
        let groups = try await api("/api/v1/rules")["groups"] as? [[String: Any]] ?? []
        return groups.flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }.map {
            ($0["name"] as? String ?? "", $0["health"] as? String ?? "", $0["lastError"] as? String ?? "")
        }
    }

    /// The Grafana dashboard's queries, with Grafana's variables filled in.
    static func dashboardQueries() throws -> [(title: String, expression: String)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(root)/deploy/observability/grafana-dashboard.json"))
        let dashboard = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        return (dashboard["panels"] as? [[String: Any]] ?? []).flatMap { panel in
            (panel["targets"] as? [[String: Any]] ?? []).compactMap { target in
                (target["expr"] as? String).map {
                    (panel["title"] as? String ?? "", $0.replacingOccurrences(of: "$__rate_interval", with: "5m").replacingOccurrences(of: "$service", with: ".*"))
                }
            }
        }
    }

    /// How many alert rules deploy/observability/alerts.yml declares.
    static func alertRuleCount() throws -> Int {
        try String(contentsOfFile: "\(root)/deploy/observability/alerts.yml", encoding: .utf8)
            .split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("- alert:") }.count
    }
}
