import Foundation

/// Starts one of deploy/local's Python servers for a test: on a port it binds itself (port 0,
/// named in a port file, so parallel tests never race for one) and ending with the test process.
enum LocalServer {
    static func start(script name: String, arguments: [String], environment: [String: String], health: String,
                      what: String) throws -> (process: Process, url: String) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../deploy/local/\(name)").standardized.path
        let dir = try Scratch.directory(String(name.prefix { $0 != "." }))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, "--port", "0", "--port-file", "\(dir)/port", "--exit-with-parent"] + arguments
        process.environment = environment.merging(["PYTHONDONTWRITEBYTECODE": "1"]) { $1 }
        let log = "\(dir)/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, process.isRunning {
            if let port = (try? String(contentsOfFile: "\(dir)/port", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines),
               Int(port) != nil {
                let url = "http://127.0.0.1:\(port)"
                if (try? SourceHostStandIn.get("\(url)/\(health)")) != nil { return (process, url) }
            }
            usleep(50_000)
        }
        process.terminate()
        throw StandInError("\(what) did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }
}
