import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDocker

/// deploy/bench/build: cold and warm builds of a sample repository on the engine's BuildKit,
/// each split into packing the context, BuildKit's part and the push, so the time Slipway
/// spends outside BuildKit shows.
///   slipway-bench build --docker-host H --registry R --base IMAGE [--network N] [--rounds 5]
enum BuildBench {
    /// Phase times as the builder reports them.
    actor Clock: BuildObserver {
        let start = ContinuousClock.now
        var building: Duration?
        var pushing: Duration?
        var cached = 0
        var steps = 0
        func phase(_ phase: BuildPhase) {
            if phase == .building { building = ContinuousClock.now - start } else { pushing = ContinuousClock.now - start }
        }
        func log(_ lines: [String]) {}
        func step(_ step: BuildStep) {
            if step.state == .cached { cached += 1 }
            if step.state == .cached || step.state == .done { steps += 1 }
        }
    }

    struct Run: Encodable {
        var totalMs: Double
        var contextMs: Double
        var buildkitMs: Double
        var pushMs: Double
        var cachedSteps: Int
        var steps: Int
    }

    static func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

    /// A small app: dependencies installed in one step, 300 source files copied and read in another.
    static func sampleRepository(base: String) throws -> String {
        let dir = NSTemporaryDirectory() + "slipway-bench-build-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(dir)/src", withIntermediateDirectories: true)
        try """
            FROM \(base)
            WORKDIR /app
            COPY deps.txt .
            RUN for d in $(cat deps.txt); do echo "$d installed" >> deps.lock; done && dd if=/dev/zero of=/app/vendor.bin bs=1M count=16 2>/dev/null
            COPY src/ ./src/
            RUN cat src/* | wc -c > /app/size && sha256sum /app/vendor.bin > /app/vendor.sha
            CMD ["cat", "/app/size"]
            """.write(toFile: "\(dir)/Dockerfile", atomically: true, encoding: .utf8)
        try (1...200).map { "dep-\($0)" }.joined(separator: "\n").write(toFile: "\(dir)/deps.txt", atomically: true, encoding: .utf8)
        for i in 1...300 {
            try String(repeating: "let value\(i) = \(i)\n", count: 40).write(toFile: "\(dir)/src/file\(i).swift", atomically: true, encoding: .utf8)
        }
        return dir
    }

    static func run(_ args: [String]) async throws -> String {
        func value(_ flag: String) -> String? { args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
        guard let host = value("--docker-host"), let registry = value("--registry"), let base = value("--base") else {
            throw BenchOptions.Usage()
        }
        let rounds = value("--rounds").flatMap(Int.init) ?? 5
        let engine = try DockerEngine(host: host)
        let dir = try sampleRepository(base: base)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let builder = EngineBuilder(engine: engine)
        func once(cache: Bool, tag: String, cacheFrom: [String] = []) async throws -> Run {
            let clock = Clock()
            var request = BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile",
                                       reference: try ImageReference(parsing: "\(registry)/bench/build:\(tag)"), buildArgs: [:],
                                       network: value("--network"), timeout: .minutes(10), cache: cache)
            request.cacheFrom = cacheFrom
            _ = try await builder.build(request, observer: clock)
            let total = ContinuousClock.now - clock.start
            let building = await clock.building ?? .zero, pushing = await clock.pushing ?? total
            return Run(totalMs: ms(total), contextMs: ms(building), buildkitMs: ms(pushing - building), pushMs: ms(total - pushing),
                       cachedSteps: await clock.cached, steps: await clock.steps)
        }
        var cold: [Run] = [], warm: [Run] = [], seeded: [Run] = []
        for round in 0..<rounds {
            cold.append(try await once(cache: false, tag: "cold-\(round)"))
            warm.append(try await once(cache: true, tag: "warm-\(round)"))
            // A builder that lost its cache (a new replica): only the registry's copy, inside the last image.
            try await engine.pruneBuildCache()
            seeded.append(try await once(cache: true, tag: "seeded-\(round)", cacheFrom: ["\(registry)/bench/build:warm-\(round)"]))
        }
        struct Line: Encodable { var rounds: Int; var cold: [Run]; var warm: [Run]; var seeded: [Run] }
        return String(decoding: try JSONEncoder().encode(Line(rounds: rounds, cold: cold, warm: warm, seeded: seeded)), as: UTF8.self)
    }
}
