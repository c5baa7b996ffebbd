import SlipwayCore
import SlipwayDetect
import Testing

@Suite struct DockerfileRendererTests {
    let nodeApp = MemoryTree([
        "package.json": #"{"scripts": {"build": "tsc", "start": "node dist/server.js"}, "engines": {"node": "20"}}"#,
        "package-lock.json": "{}", "src/server.ts": "export {}",
    ])

    @Test func installFilesComeBeforeInstallAndTheSourceAfter() throws {
        let text = try DockerfileRenderer.render(try Detector.plan(nodeApp))
        let lines = text.split(separator: "\n").map(String.init)
        let copyManifest = try #require(lines.firstIndex(of: #"COPY ["package.json", "./package.json"]"#))
        let install = try #require(lines.firstIndex { $0.hasSuffix(#""npm install"]"#) })
        let copyAll = try #require(lines.firstIndex(of: "COPY . ."))
        let build = try #require(lines.firstIndex { $0.hasSuffix(#""npm run build"]"#) })
        #expect(copyManifest < install && install < copyAll && copyAll < build)
        #expect(lines.contains(#"COPY ["package-lock.json", "./package-lock.json"]"#))
        // Package-manager caches survive between builds.
        #expect(lines[install].hasPrefix("RUN --mount=type=cache,target=/root/.npm "))
        #expect(lines.contains("FROM node:20-bookworm-slim AS build"))
        #expect(lines.contains("FROM node:20-bookworm-slim"))
        #expect(lines.contains("USER app"))
        #expect(lines.last == #"CMD ["sh", "-c", "npm run start"]"#)
        #expect(lines.contains(#"ENV NODE_ENV="production""#))
        #expect(lines.contains("ENV PATH=/app/node_modules/.bin:$PATH"))
    }

    @Test func baseImagesComeFromTheMapWithTheDetectedVersion() throws {
        let plan = try Detector.plan(MemoryTree(["go.mod": "module x\n\ngo 1.22\n", "main.go": "package main"]))
        let text = try DockerfileRenderer.render(plan, images: BaseImages(["go": "mirror.internal/golang:{version}", "runtime": "mirror.internal/distroless"]))
        #expect(text.contains("FROM mirror.internal/golang:1.22 AS build"))
        #expect(text.contains("\nFROM mirror.internal/distroless\n"))
        #expect(text.contains(#"RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod ["sh", "-c", "go build -ldflags=\"-w -s\" -o out"]"#))
    }

    /// What the official image lacks comes first: uv for a uv project, mvn without a wrapper.
    @Test func missingToolsAreInstalledBeforeInstall() throws {
        let uv = try DockerfileRenderer.render(try Detector.plan(MemoryTree([
            "pyproject.toml": "[project]\nname = \"x\"\n", "uv.lock": "", "main.py": "print(1)",
        ])))
        let lines = uv.split(separator: "\n").map(String.init)
        let setup = try #require(lines.firstIndex(of: #"RUN ["sh", "-c", "pip install uv"]"#))
        let install = try #require(lines.firstIndex { $0.hasSuffix(#""uv sync --locked --no-dev --no-install-project"]"#) })
        #expect(setup < install)
        #expect(lines.contains("ENV PATH=/app/.venv/bin:$PATH"))
        let maven = try DockerfileRenderer.render(try Detector.plan(MemoryTree(["pom.xml": "<project/>"])))
        #expect(maven.contains("FROM maven:3-eclipse-temurin-21 AS build"))
        #expect(maven.contains("\nFROM eclipse-temurin:21-jre\n"))
    }

    @Test func laravelGetsAStartScriptThatMigratesUnlessSkipped() throws {
        let plan = try Detector.plan(MemoryTree(["composer.json": #"{"require": {"php": "^8.3"}}"#, "artisan": "", "public/index.php": ""]))
        #expect(plan.start == "/start-container.sh")
        let text = try DockerfileRenderer.render(plan)
        #expect(text.contains("FROM dunglas/frankenphp:php8.3-trixie AS build"))
        #expect(text.contains(#"RUN printf '#!/bin/sh\nset -e\nif [ "$RAILPACK_SKIP_MIGRATIONS" != "true" ]; then php artisan migrate --force; fi\nexec frankenphp php-server --root /app/public --listen :${PORT:-80}\n' > /start-container.sh"#))
    }

    @Test func tanStackStartRunsItsServerBundle() throws {
        let plan = try Detector.plan(MemoryTree([
            "package.json": #"{"scripts": {"build": "vite build"}, "dependencies": {"@tanstack/react-start": "^1"}}"#,
            "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
        ]))
        #expect(plan.start == "pnpm exec srvx --prod -s ../client dist/server/server.js")
        #expect(plan.tools["pnpm"] == "9")
    }

    @Test func latestAndLTSUseTheImagesOwnTags() {
        let images = BaseImages()
        #expect(images.image("node", version: "lts") == "node:lts-bookworm-slim")
        #expect(images.image("python", version: "latest") == "python:slim-bookworm")
        #expect(images.image("caddy", version: "2") == "caddy:2")
        #expect(BaseImages.parse("node=m/node:{version}, python = m/py:{version} ,bad") == ["node": "m/node:{version}", "python": "m/py:{version}"])
    }

    @Test func noStartCommandSaysWhereToSetOne() throws {
        let plan = try Detector.plan(MemoryTree(["package.json": #"{"scripts": {"build": "tsc"}}"#]))
        #expect(plan.start == nil)
        #expect(throws: DockerfileRenderer.Missing.self) { try DockerfileRenderer.render(plan) }
        do {
            _ = try DockerfileRenderer.render(plan)
        } catch {
            #expect(error.description.contains("deploy.startCommand"))
        }
    }

    @Test func jsoncAndAnExplicitConfigFile() throws {
        let tree = MemoryTree([
            "package.json": #"{"scripts": {"start": "node a.js"}}"#,
            "deploy/railpack.json": """
                {
                  // comments and trailing commas are fine
                  "deploy": { "startCommand": "node b.js", },
                }
                """,
        ])
        #expect(try Detector.plan(tree, environment: ["RAILPACK_CONFIG_FILE": "deploy/railpack.json"]).start == "node b.js")
        #expect(throws: Detector.Failure.self) { try Detector.plan(tree, environment: ["RAILPACK_CONFIG_FILE": "missing.json"]) }
    }
}
