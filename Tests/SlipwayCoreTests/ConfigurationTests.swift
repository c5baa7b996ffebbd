import SlipwayCore
import Testing

@Suite struct ConfigurationTests {
    @Test func flagsBeatEnvironmentBeatDotEnvBeatDefaults() throws {
        let config = try Configuration.resolve(
            flags: ["SLIPWAY_HTTP_ADDR": "0.0.0.0:9000"],
            environment: ["SLIPWAY_HTTP_ADDR": "127.0.0.1:7000", "SLIPWAY_POLICIES": "env-policies"],
            dotenv: ["SLIPWAY_POLICIES": "dotenv-policies", "SLIPWAY_DATA_DIR": "/var/lib/slipway", "SLIPWAY_ALLOW_LOCAL_REPOS": "0"],
            defaults: ["SLIPWAY_ALLOW_LOCAL_REPOS": "1", "SLIPWAY_DATA_DIR": "default-dir"])
        #expect(config.httpHost == "0.0.0.0")
        #expect(config.httpPort == 9000)
        #expect(config.policies == "env-policies")
        #expect(config.dataDir == "/var/lib/slipway")
        #expect(config.allowLocalRepos == false)
    }

    @Test func defaults() throws {
        let config = try Configuration.resolve(environment: [:])
        #expect(config.httpHost == "127.0.0.1" && config.httpPort == 8080)
        #expect(config.allowLocalRepos == false)
        #expect(config.dockerHost == "unix:///var/run/docker.sock")
        #expect(config.webhookSecrets.isEmpty)
        #expect(config.jobLease == .seconds(15))
        #expect(config.buildConcurrency == 2 && config.buildConcurrencyPerService == 1)
        #expect(config.jobRetention == .seconds(7 * 86_400))
    }

    @Test func emptyValuesCountAsUnset() throws {
        let config = try Configuration.resolve(environment: ["SLIPWAY_WEBHOOK_SECRET_GITHUB": "", "DATABASE_URL": ""])
        #expect(config.webhookSecrets[.github] == nil)
        #expect(config.databaseURL == nil)
    }

    @Test(arguments: [
        ("SLIPWAY_HTTP_ADDR", "8080"), ("SLIPWAY_HTTP_ADDR", "host:99999"), ("SLIPWAY_ALLOW_LOCAL_REPOS", "maybe"),
        ("SLIPWAY_BUILD_CONCURRENCY", "0"), ("SLIPWAY_JOB_LEASE", "30"),
    ])
    func rejectsBadValuesNamingTheKey(key: String, value: String) {
        #expect(throws: Configuration.Invalid.self) { try Configuration.resolve(environment: [key: value]) }
        do { _ = try Configuration.resolve(environment: [key: value]) } catch { #expect(error.key == key) }
    }

    @Test func secretsAreRedacted() {
        let lines = Configuration.redacted(["SLIPWAY_WEBHOOK_SECRET_GITHUB": "s3cret", "DATABASE_URL": "postgres://u:pw@h/db",
                                            "SLIPWAY_POLICIES": "policies"])
        #expect(lines.joined().contains("s3cret") == false)
        #expect(lines.joined().contains(":pw@") == false)
        #expect(lines.contains("SLIPWAY_POLICIES=policies"))
    }
}

@Suite struct DotEnvTests {
    @Test func parsesTheUsualForms() throws {
        let values = try DotEnv.parse("""
            # comment
            DATABASE_URL=postgres://localhost/slipway
            export SLIPWAY_POLICIES = policies   # trailing comment
            QUOTED="a \\"b\\"\\nc"
            SINGLE='raw \\n #kept'

            EMPTY=
            """)
        #expect(values["DATABASE_URL"] == "postgres://localhost/slipway")
        #expect(values["SLIPWAY_POLICIES"] == "policies")
        #expect(values["QUOTED"] == "a \"b\"\nc")
        #expect(values["SINGLE"] == "raw \\n #kept")
        #expect(values["EMPTY"] == "")
    }

    @Test(arguments: [("NOEQUALS", 1), ("A=1\nBAD KEY=2", 2), ("X=\"open", 1)])
    func reportsTheLine(text: String, line: Int) {
        do {
            _ = try DotEnv.parse(text)
            Issue.record("expected an error")
        } catch {
            #expect(error.line == line)
        }
    }
}

@Suite struct DatabaseURLTests {
    @Test func tcp() throws {
        let url = try DatabaseURL(parsing: "postgres://slip:p%40ss@db.internal:6432/deploys?sslmode=require")
        #expect(url.user == "slip" && url.password == "p@ss")
        #expect(url.host == "db.internal" && url.port == 6432)
        #expect(url.database == "deploys" && url.tls == .require)
        #expect(url.socketPath == nil)
    }

    @Test func socketAndDefaults() throws {
        let url = try DatabaseURL(parsing: "postgresql://postgres@/slipway?host=/var/run/postgresql")
        #expect(url.socketPath == "/var/run/postgresql/.s.PGSQL.5432")
        #expect(url.database == "slipway")
        #expect(url.tls == .prefer)
    }

    @Test(arguments: ["mysql://x/y", "not a url", "postgres://h/db?sslmode=bogus"])
    func rejects(text: String) {
        #expect(throws: DatabaseURL.Invalid.self) { try DatabaseURL(parsing: text) }
    }

    @Test func redactsPasswords() {
        #expect(!DatabaseURL.redactingPassword("postgres://u:topsecret@h/db").contains("topsecret"))
    }
}
