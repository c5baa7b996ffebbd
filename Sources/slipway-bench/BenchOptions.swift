import Foundation

struct BenchOptions {
    var mode = ""
    var databaseURL = ""
    var jobs = 100_000
    var workers = 8
    var batch = 100
    var samples = 1000

    struct Usage: Error, CustomStringConvertible {
        var description: String {
            "usage: slipway-bench raw|slipway|latency --database-url URL [--jobs N] [--workers W] [--batch B] [--samples S]"
        }
    }

    init<S: Sequence>(_ arguments: S) where S.Element == String {
        var rest = Array(arguments)
        if let first = rest.first, !first.hasPrefix("--") { mode = first; rest.removeFirst() }
        while rest.count >= 2 {
            let (flag, value) = (rest[0], rest[1])
            rest.removeFirst(2)
            switch flag {
            case "--database-url": databaseURL = value
            case "--jobs": jobs = Int(value) ?? jobs
            case "--workers": workers = Int(value) ?? workers
            case "--batch": batch = Int(value) ?? batch
            case "--samples": samples = Int(value) ?? samples
            default: continue
            }
        }
    }

    static func json(_ fields: [(String, Any)]) -> String {
        "{" + fields.map { key, value in
            let text: String
            switch value {
            case let s as String: text = "\"\(s)\""
            case let d as Double: text = String(format: "%.3f", d)
            default: text = "\(value)"
            }
            return "\"\(key)\": \(text)"
        }.joined(separator: ", ") + "}"
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
