import Foundation
import Logging
import PostgresNIO
import SlipwayController
import SlipwayCore
import SlipwayStore

// The Swift half of deploy/bench/queue. One mode per run, one JSON line out:
//   slipway-bench raw|slipway --database-url URL --jobs N --workers W --batch B
//   slipway-bench latency --database-url URL --samples S
//   slipway-bench prune --database-url URL          (deploy/bench/retention: the log prune until nothing is left)
//   slipway-bench hello --addr 127.0.0.1:PORT      (deploy/bench/webhooks: the framework ceiling)
//   slipway-bench detect DIR… [--rounds N]         (deploy/bench/detect: zero-config detection time)
//   slipway-bench detect-hostile DIR [--rounds N]  (deploy/bench/detect: a repository built to hurt detection)
//   slipway-bench build --docker-host H --registry R --base IMAGE [--network N] [--rounds 5]  (deploy/bench/build)
//   slipway-bench ecs-fake --port P --services N   (deploy/bench/ecs: the paging-faithful ECS)
//   slipway-bench ecs --endpoint URL --services N  (deploy/bench/ecs: one reconcile pass over N services)
// `raw` drives the queue's own claim and complete statements on W connections (the ceiling);
// `slipway` runs W worker pools of B slots claiming B at a time, as `slipway serve` runs them.

let options = BenchOptions(CommandLine.arguments.dropFirst())
var logger = Logger(label: "slipway.bench")
logger.logLevel = .error
let kind = JobKind("bench.noop")

if CommandLine.arguments.dropFirst().first == "detect-hostile" {
    print(DetectBench.hostile(Array(CommandLine.arguments.dropFirst(2))))
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "detect" {
    print(DetectBench.run(Array(CommandLine.arguments.dropFirst(2))))
    exit(0)
}

if let mode = CommandLine.arguments.dropFirst().first, mode == "ecs" || mode == "ecs-fake" {
    let args = Array(CommandLine.arguments.dropFirst(2))
    func value(_ flag: String) -> String? { args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
    let services = value("--services").flatMap(Int.init) ?? 1000
    do {
        if mode == "ecs-fake" {
            try await ECSBench.serveFake(port: value("--port").flatMap(Int.init) ?? 8090, services: services)
        } else {
            print(try await ECSBench.run(endpoint: value("--endpoint") ?? "http://127.0.0.1:8090", services: services))
        }
    } catch {
        FileHandle.standardError.write(Data("slipway-bench \(mode): \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "build" {
    do { print(try await BuildBench.run(Array(CommandLine.arguments.dropFirst(2)))) } catch {
        FileHandle.standardError.write(Data("slipway-bench build: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "hello" {
    let args = Array(CommandLine.arguments.dropFirst(2))
    let address = args.firstIndex(of: "--addr").flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } ?? "127.0.0.1:8089"
    do { try await Hello.serve(address: address, logger: logger) } catch {
        FileHandle.standardError.write(Data("slipway-bench hello: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}

do {
    let url = try DatabaseURL(parsing: options.databaseURL)
    let line = try await Store.open(url, logger: logger, migrate: true) { store -> String in
        switch options.mode {
        case "raw": return try await Drain.raw(store: store, url: url, options: options, kind: kind, logger: logger)
        case "slipway": return try await Drain.slipway(store: store, options: options, kind: kind, logger: logger)
        case "latency": return try await Latency.measure(store: store, url: url, samples: options.samples, kind: kind, logger: logger)
        case "prune": return try await PruneBench.run(store: store)
        default: throw BenchOptions.Usage()
        }
    }
    print(line)
} catch {
    FileHandle.standardError.write(Data("slipway-bench: \(String(reflecting: error))\n".utf8))
    exit(1)
}
