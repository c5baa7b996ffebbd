import Foundation
import SlipwayDetect

/// `slipway-bench detect DIR… [--rounds N]`: zero-config detection over real checkouts on
/// disk (the file system read included), each repository N times; per-repo median and
/// the p50/p99 over every run, in milliseconds.
enum DetectBench {
    static func run(_ arguments: [String]) -> String {
        var rounds = 200
        var folders: [String] = []
        var index = 0
        while index < arguments.count {
            if arguments[index] == "--rounds", index + 1 < arguments.count {
                rounds = Int(arguments[index + 1]) ?? rounds
                index += 2
            } else {
                folders.append(arguments[index])
                index += 1
            }
        }
        var all: [Double] = []
        var medians: [Double] = []
        var detected = 0
        for folder in folders {
            var times: [Double] = []
            for _ in 0..<rounds {
                let start = ContinuousClock.now
                let plan = try? Detector.plan(DirectoryTree(root: folder))
                let elapsed = ContinuousClock.now - start
                times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                if times.count == 1, plan?.provider != nil { detected += 1 }
            }
            times.sort()
            medians.append(times[times.count / 2])
            all += times
        }
        all.sort()
        func percentile(_ p: Double) -> Double { all.isEmpty ? 0 : all[min(all.count - 1, Int(Double(all.count) * p))] }
        let worst = medians.max() ?? 0
        return String(format: #"{"repos": %d, "detected": %d, "rounds": %d, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "slowest_repo_median_ms": %.3f}"#,
                      folders.count, detected, rounds, percentile(0.5), percentile(0.99), all.last ?? 0, worst)
    }

    /// `slipway-bench detect-hostile DIR [--rounds N]`: one repository built to hurt detection;
    /// the median time, what detection said, and this process's peak resident memory (run
    /// one repository per process so the peak is its own).
    static func hostile(_ arguments: [String]) -> String {
        let folder = arguments.first ?? "."
        let rounds = arguments.firstIndex(of: "--rounds").flatMap { Int(arguments[$0 + 1]) } ?? 3
        var times: [Double] = []
        var outcome = ""
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            do {
                let plan = try Detector.plan(DirectoryTree(root: folder, rootName: "app"))
                outcome = "planned: \(plan.provider ?? "nothing detected")"
            } catch {
                outcome = "refused: \(error.description.prefix(100))"
            }
            let elapsed = ContinuousClock.now - start
            times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
        }
        times.sort()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let outcomeJSON = String(decoding: (try? JSONEncoder().encode(outcome)) ?? Data("\"\"".utf8), as: UTF8.self)
        return String(format: #"{"repo": "%@", "median_ms": %.3f, "peak_rss_mb": %.1f, "outcome": %@}"#,
                      (folder as NSString).lastPathComponent, times[times.count / 2], Double(usage.ru_maxrss) / 1024, outcomeJSON)
    }
}
