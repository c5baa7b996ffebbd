// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "slipway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "slipway", targets: ["slipway"]),
        .executable(name: "slipway-bench", targets: ["slipway-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Domain types and pure decisions. No I/O, no dependencies.
        .target(name: "SlipwayCore"),
        // Policy files: YAML → validated model, errors with file:line:col.
        .target(name: "SlipwayPolicy", dependencies: [
            "SlipwayCore", "SlipwaySystem",
            .product(name: "Yams", package: "Yams"),
        ]),
        // SigV4, the credential chain, ECS/ECR/Logs calls; the ECS templates embedded from manifests/ecs.
        .target(name: "SlipwayAWS", dependencies: [
            "SlipwayCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ], plugins: ["EmbedManifests"]),
        // The OCI distribution API: manifests, tags, deletes; basic and bearer-token logins.
        .target(name: "SlipwayRegistry", dependencies: [
            "SlipwayCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ]),
        // Zero-config detection: a pure function over a file tree → build plan → Dockerfile.
        // No YAML here: what a repository holds is read with bounded, hand-written readers.
        .target(name: "SlipwayDetect", dependencies: ["SlipwayCore", "SlipwaySystem"]),
        // Provider payloads → normalized events; signature checks.
        .target(name: "SlipwayWebhooks", dependencies: [
            "SlipwayCore",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Postgres: migrations (embedded from migrations/ at build time), repositories, the job queue.
        .target(
            name: "SlipwayStore",
            dependencies: [
                "SlipwayCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        .systemLibrary(
            name: "CLibGit2",
            path: "Sources/CLibGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        // libgit2 mirror cache, fetch and checkout.
        .target(name: "SlipwayGit", dependencies: [
            "SlipwayCore", "CLibGit2",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // Docker engine API client over a unix socket or TCP.
        .target(name: "SlipwaySourceHosts", dependencies: [
            "SlipwayCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ]),
        .target(name: "SlipwayDocker", dependencies: [
            "SlipwayCore", "SlipwaySystem",
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Builder protocol; BuildKit through the Docker engine; build context tar; progress decoding.
        .target(name: "SlipwayBuild", dependencies: [
            "SlipwayCore", "SlipwayDocker", "SlipwaySystem",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Runtime protocol; the local Docker runtime.
        .target(name: "SlipwayRuntime", dependencies: [
            "SlipwayCore", "SlipwayDocker", "SlipwayAWS", "SlipwaySystem",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Long-running services: workers and job handlers (build, rollout, watch).
        .target(name: "SlipwayController", dependencies: [
            "SlipwayCore", "SlipwayPolicy", "SlipwayStore", "SlipwayGit", "SlipwayBuild", "SlipwayRuntime", "SlipwayDetect",
            "SlipwayRegistry", "SlipwayDocker", "SlipwaySystem", "SlipwaySourceHosts",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The application layer: the use cases every face calls (deploy, rollback, cancel, plan,
        // status, logs), the reconcile loop, and the assembly of the running system.
        // Metrics: swift-metrics instruments backed by a Prometheus registry per process (no global bootstrap).
        .target(name: "SlipwayTelemetry", dependencies: [
            "SlipwayCore",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .target(name: "SlipwayApp", dependencies: [
            "SlipwayCore", "SlipwayStore", "SlipwayController", "SlipwayRuntime", "SlipwayAWS", "SlipwayDocker", "SlipwayRegistry",
            "SlipwayGit", "SlipwayBuild", "SlipwayPolicy", "SlipwaySystem", "SlipwaySourceHosts", "SlipwayTelemetry",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // HTTP: webhooks, health, JSON API. Maps requests onto the application layer.
        .target(name: "SlipwayServer", dependencies: [
            "SlipwayCore", "SlipwayWebhooks", "SlipwayStore", "SlipwayApp", "SlipwayTelemetry",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ]),
        .executableTarget(name: "slipway", dependencies: [
            "SlipwayCore", "SlipwayPolicy", "SlipwayWebhooks", "SlipwayStore", "SlipwayController", "SlipwayServer", "SlipwayApp",
            "SlipwayGit", "SlipwayBuild", "SlipwayRuntime", "SlipwayDocker", "SlipwaySystem", "SlipwayDetect", "SlipwayAWS", "SlipwayRegistry",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // deploy/bench/queue: the queue's throughput and latency, measured.
        // A paging-faithful ECS read API for the paging tests and the reconcile benchmark.
        .target(name: "SlipwayECSFake", dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // libFuzzer targets (deploy/fuzz builds them with -sanitize=fuzzer,address -DSLIPWAY_FUZZ).
        .executableTarget(name: "slipway-fuzz", dependencies: [
            "SlipwayCore", "SlipwayWebhooks", "SlipwayPolicy", "SlipwayDetect", "SlipwayBuild", "SlipwayRegistry", "CFuzzDriver",
        ]),
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "slipway-bench", dependencies: [
            "SlipwayCore", "SlipwayStore", "SlipwayController", "SlipwayApp", "SlipwayDetect", "SlipwayAWS", "SlipwayRuntime", "SlipwayECSFake",
            "SlipwayBuild", "SlipwayDocker",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),

        .executableTarget(name: "FileEmbedder", path: "Plugins/FileEmbedder"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["FileEmbedder"],
            path: "Plugins/EmbedMigrations"
        ),
        .plugin(
            name: "EmbedManifests",
            capability: .buildTool(),
            dependencies: ["FileEmbedder"],
            path: "Plugins/EmbedManifests"
        ),

        // Running external programs (argv arrays, no shell).
        .target(name: "SlipwaySystem", dependencies: ["SlipwayCore"]),
        // Helpers shared by the integration and end-to-end suites (temp repos, processes, a test clock).
        .target(name: "SlipwayTestSupport", dependencies: ["SlipwaySystem"]),
        // In-memory twins of the seams (runtime, builder, git, registry) for tests of the handlers' logic.
        .target(name: "SlipwayFakes", dependencies: [
            "SlipwayCore", "SlipwayRuntime", "SlipwayBuild", "SlipwayGit", "SlipwayRegistry",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Pure logic, milliseconds.
        .testTarget(name: "SlipwayCoreTests", dependencies: ["SlipwayCore"]),
        .testTarget(name: "SlipwayTelemetryTests", dependencies: ["SlipwayTelemetry", "SlipwayCore"]),
        // The long-running services' logic on in-memory seams (leases, clocks): no database, no engine.
        .testTarget(name: "SlipwayControllerTests", dependencies: [
            "SlipwayController", "SlipwayCore", "SlipwayStore", "SlipwayTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SlipwayRegistryTests", dependencies: ["SlipwayRegistry", "SlipwayCore"]),
        .testTarget(name: "SlipwaySourceHostsTests", dependencies: [
            "SlipwaySourceHosts", "SlipwayGit", "SlipwayCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .testTarget(name: "SlipwayAWSTests", dependencies: [
            "SlipwayAWS", "SlipwayRuntime", "SlipwayCore", "SlipwayECSFake", "SlipwayTestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
        ], exclude: ["Fixtures"]),
        .testTarget(name: "SlipwayDetectTests", dependencies: ["SlipwayDetect", "SlipwayCore"], exclude: ["Fixtures"]),
        .testTarget(name: "SlipwayPolicyTests", dependencies: ["SlipwayPolicy", "SlipwayCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SlipwayWebhooksTests", dependencies: ["SlipwayWebhooks", "SlipwayCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SlipwayBuildTests", dependencies: [
            "SlipwayBuild", "SlipwayCore", "SlipwayDocker", "SlipwaySystem",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ], resources: [.copy("Fixtures")]),
        // Real Postgres, Docker engine, registry, libgit2 — started by deploy/test.sh.
        .testTarget(name: "SlipwayIntegrationTests", dependencies: [
            "SlipwayAWS", "SlipwayRegistry",
            "SlipwayDetect",
            "SlipwayCore", "SlipwayPolicy", "SlipwayWebhooks", "SlipwayStore", "SlipwayGit", "SlipwayBuild",
            "SlipwayRuntime", "SlipwayDocker", "SlipwayController", "SlipwayServer", "SlipwayTestSupport", "SlipwaySystem", "SlipwayFakes",
            "SlipwaySourceHosts",
            "SlipwayApp", "SlipwayTelemetry",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        // The whole chain through the `slipway` binary, as a user drives it.
        .testTarget(name: "SlipwayEndToEndTests", dependencies: [
            "SlipwayCore", "SlipwayDocker", "SlipwayWebhooks", "SlipwayTestSupport", "SlipwayAWS",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
