import Foundation
import SlipwayCore
import SlipwayPolicy
import Testing

@Suite struct PolicyParserTests {
    let parser = PolicyParser(allowLocalRepos: false)

    func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Parses `yaml` and returns its diagnostics as `line:col: message`.
    func errors(_ yaml: String, allowLocal: Bool = false) -> [String] {
        PolicyParser(allowLocalRepos: allowLocal).parse(yaml: yaml, file: "p.yaml").diagnostics
            .map { "\($0.line):\($0.column): \($0.message)" }
    }

    @Test func everyKeyOfTheDockerTarget() throws {
        let result = parser.parse(yaml: try fixture("valid-full.yaml"), file: "web.yaml")
        #expect(result.diagnostics.isEmpty)
        let policy = try #require(result.policies.first?.policy)
        #expect(policy == Policy(
            service: "web",
            source: .init(repo: "https://github.com/acme/shop.git", branch: "main", paths: ["services/web/**"], poll: .seconds(60)),
            build: .init(context: "services/web", dockerfile: "Dockerfile", args: ["NODE_ENV": "production", "RETRIES": "3"],
                         timeout: .minutes(20)),
            image: "127.0.0.1:5000/acme/web",
            deploy: .init(target: .docker, count: 2, env: ["LOG_LEVEL": "info", "DEBUG": "false"]),
            rollback: .init(window: .seconds(90), crashes: 2),
            previews: .init(enabled: false),
            notify: [
                NotifyChannel(kind: .slack, url: .reference(.environment("SLIPWAY_SECRET_SLACK_DEPLOYS"))),
                NotifyChannel(kind: .webhook, url: .literal("https://hooks.example.com/slipway"),
                              secret: .file("/run/secrets/slipway/hook-key"), events: NotifyEvent.allCases),
            ]))
        #expect(result.policies.first?.line == 2)
    }

    @Test func severalServicesPerFileWithDefaults() throws {
        let result = parser.parse(yaml: try fixture("two-services.yaml"), file: "shop.yaml")
        #expect(result.diagnostics.isEmpty)
        #expect(result.policies.map(\.policy.service) == ["api", "worker"])
        let api = result.policies[0].policy
        #expect(api.source.branch == "main")
        #expect(api.build == Policy.Build())
        #expect(api.deploy == Policy.Deploy(target: .docker, count: 1, env: [:]))
        #expect(api.rollback == Policy.Rollback(window: .seconds(60), crashes: 1))
        #expect(result.policies[1].line == 5)
    }

    @Test(arguments: [
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimgae: r.example.com/a/web\n",
         ["1:1: missing required key `image`", "3:1: unknown key `imgae`; did you mean `image`?"]),
        ("service: Web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\n",
         ["1:10: `service` name `Web` must match [a-z][a-z0-9-]{0,39}: lowercase letters, digits and dashes, starting with a letter"]),
        ("service: web\nsource:\n  repo: ext::sh -c evil\nimage: r.example.com/a/web\n",
         ["3:9: `source.repo`: repository URL `ext::sh -c evil` uses a transport helper (`::`); use https://, ssh:// or git@host:path"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\nrollback: { window: 5 minutes }\n",
         ["4:21: `rollback.window` is `5 minutes`, not a duration; write it like 90s, 5m or 72h"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\ndeploy: { count: 0 }\n",
         ["4:18: `deploy.count` is 0; it must be between 1 and 100"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web:latest\n",
         ["3:8: `image` names a repository without tag or digest (each build is tagged with its commit SHA); write `r.example.com/a/web`"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\nbuild: { context: ../other }\n",
         ["4:19: `build.context` `../other` must stay inside the repository (no `..`)"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\nbuild: { dockerfile: /etc/passwd }\n",
         ["4:22: `build.dockerfile` `/etc/passwd` must be relative to the repository root, not absolute"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\ndeploy: { target: nomad }\n",
         ["4:19: `deploy.target` `nomad` is unknown; supported: docker, ecs"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\ndeploy: { target: docker, cluster: prod }\n",
         ["4:27: `deploy.cluster` applies to `deploy.target: ecs`; this service deploys to docker"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git, poll: 2s }\nimage: r.example.com/a/web\n",
         ["2:51: `source.poll` is 2s; it must be between 10s and 24h"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git, paths: [\"../x/**\"] }\nimage: r.example.com/a/web\n",
         ["2:53: `source.paths[0]` `../x/**` must be relative to the repository root, without `..`"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git, branch: \"feat..x\" }\nimage: r.example.com/a/web\n",
         ["2:53: `source.branch` `feat..x` is not a valid branch name"]),
        ("service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\nservice: api\n",
         ["4:1: duplicate key `service`: it is already set at line 1; keep one"]),
        ("service: web\nsource: [oops\n", ["3:1: YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence at 2:9)"]),
        ("", ["1:1: no service declared; a policy file holds one YAML document per service"]),
        ("- just\n- a list\n", ["1:1: a policy document must be a mapping of keys to values, as in `service: web`"]),
    ] as [(String, [String])])
    func reportsWhereAndWhat(yaml: String, expected: [String]) {
        #expect(errors(yaml) == expected)
    }

    @Test func localReposOnlyWhenAllowed() {
        let yaml = "service: web\nsource: { repo: file:///srv/git/web.git }\nimage: 127.0.0.1:5000/web\n"
        #expect(errors(yaml).count == 1)
        #expect(errors(yaml).first?.contains("SLIPWAY_ALLOW_LOCAL_REPOS=1") == true)
        #expect(errors(yaml, allowLocal: true).isEmpty)
    }

    /// An existing service keeps its network configuration: subnets are needed only to create one.
    @Test func fargateWithoutSubnetsForAServiceThatExists() {
        let yaml = "service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\ndeploy: { target: ecs, cluster: prod }\n"
        #expect(errors(yaml).isEmpty)
        #expect(errors(yaml.replacingOccurrences(of: "cluster: prod", with: "cluster: prod, subnets: []"))
                == ["4:48: `deploy.subnets` is empty; Fargate tasks need at least one subnet"])
    }

    /// 435 bytes of anchors that stand for billions of values: refused at once, not walked.
    @Test func aYAMLAliasBombIsRefused() {
        var bomb = "service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\nx0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for level in 1...8 { bomb += "x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ",") + "]\n" }
        let found = errors(bomb)
        #expect(found.count == 1)
        #expect(found.first?.contains("expands to over 100000 YAML values") == true, "\(found)")
    }

    @Test func secretReferencesFollowTheServersRules() {
        let yaml = "service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\nbuild:\n  secrets:\n    npm: env:NPM_TOKEN\n"
        #expect(errors(yaml).first?.contains("must start with `SLIPWAY_SECRET_`") == true)
        let team = PolicyParser(allowLocalRepos: false, secretRules: SecretRules(environmentPrefixes: ["NPM_"], folders: ["/etc/team"]))
        #expect(team.parse(yaml: yaml, file: "p.yaml").diagnostics.isEmpty)
        #expect(team.parse(yaml: yaml.replacingOccurrences(of: "env:NPM_TOKEN", with: "file:/etc/team/npmrc"), file: "p.yaml").diagnostics.isEmpty)
    }

    @Test func imageCredentials() throws {
        let yaml = "service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\nimageCredentials: env:SLIPWAY_SECRET_REGISTRY_LOGIN\n"
        #expect(errors(yaml).isEmpty)
        #expect(parser.parse(yaml: yaml, file: "p.yaml").policies.first?.policy.imageCredentials == .environment("SLIPWAY_SECRET_REGISTRY_LOGIN"))
        #expect(errors(yaml.replacingOccurrences(of: "env:SLIPWAY_SECRET_REGISTRY_LOGIN", with: "hunter2")).first?.contains("`imageCredentials`") == true)
    }

    @Test func buildPlatforms() {
        let yaml = { (platform: String) in
            "service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\nbuild: { dockerfile: Dockerfile, platform: \(platform) }\n"
        }
        for good in ["linux/amd64", "linux/arm64/v8", "windows/amd64"] {
            #expect(errors(yaml(good)).isEmpty, "\(good)")
            #expect(parser.parse(yaml: yaml(good), file: "p.yaml").policies.first?.policy.build.platform == good)
        }
        for bad in ["arm64", "linux/", "Linux/AMD64", "linux/amd64/v8/extra"] {
            #expect(errors(yaml(bad)).first?.contains("`build.platform`") == true, "\(bad)")
        }
    }

    @Test func oneBadDocumentRejectsTheWholeFile() {
        let yaml = "service: good\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/good\n---\nservice: bad\n"
        let result = parser.parse(yaml: yaml, file: "p.yaml")
        #expect(result.policies.isEmpty)
        #expect(result.diagnostics.map(\.line) == [5, 5])
    }
}

/// Odd YAML that must give an error, never a crash.
@Suite struct PolicyParserOddInputTests {
    func errors(_ yaml: String) -> [String] {
        PolicyParser(allowLocalRepos: false).parse(yaml: yaml, file: "p.yaml").diagnostics.map { "\($0.line):\($0.column): \($0.message)" }
    }

    static let head = "service: web\nsource: { repo: https://github.com/a/b.git }\nimage: r.example.com/a/web\n"

    @Test func baseSixtyAndHugeNumbers() {
        #expect(errors(Self.head + "deploy: { count: 1:1:1:1:1:1:1:1:1:1:1:1 }\n") == ["4:18: `deploy.count` must be a whole number, written without quotes"])
        #expect(errors(Self.head + "deploy: { count: 99999999999999999999999 }\n") == ["4:18: `deploy.count` is 99999999999999999999999; it must be between 1 and 100"])
        #expect(errors(Self.head + "deploy: { count: 0x10 }\n") == ["4:18: `deploy.count` must be a whole number, written without quotes"])
    }

    @Test func durationsThatOverflow() {
        #expect(errors(Self.head + "rollback: { window: 9223372036854775807ms1ms }\n")
                == ["4:21: `rollback.window` is `9223372036854775807ms1ms`, not a duration; write it like 90s, 5m or 72h"])
    }

    @Test func windowsLineEndingsWithADuplicateKey() {
        let yaml = "service: web\r\nsource:\r\n  repo: https://github.com/a/b.git\r\n  repo: https://github.com/a/c.git\r\nimage: r.example.com/a/web\r\n"
        #expect(errors(yaml) == ["4:3: duplicate key `source.repo`: it is already set at line 3; keep one"])
    }
}

/// SLIPWAY_NOTIFY takes a policy's `notify:` list, in flow or block YAML, under the same rules.
@Suite struct NotifySettingTests {
    let parser = PolicyParser(allowLocalRepos: false)

    @Test func flowAndBlockFormsGiveTheSameChannels() {
        let flow = parser.parseNotifySetting("[{slack: env:SLIPWAY_SECRET_SLACK}, {webhook: 'https://h.example.com/x', secret: env:SLIPWAY_SECRET_H, events: [live]}]")
        let block = parser.parseNotifySetting("- slack: env:SLIPWAY_SECRET_SLACK\n- webhook: https://h.example.com/x\n  secret: env:SLIPWAY_SECRET_H\n  events: [live]\n")
        #expect(flow.diagnostics.isEmpty && block.diagnostics.isEmpty)
        #expect(flow.channels == block.channels)
        #expect(flow.channels.map(\.kind) == [.slack, .webhook])
        #expect(flow.channels[0].events == [.failed, .rolledBack] && flow.channels[1].events == [.live])
    }

    @Test func mistakesPointIntoTheSetting() {
        let result = parser.parseNotifySetting("- webhook: ftp://h.example.com\n  secret: env:SLIPWAY_SECRET_H\n")
        #expect(result.channels.isEmpty)
        #expect(result.diagnostics.map(\.description) == ["SLIPWAY_NOTIFY:1:12: `notify[0].webhook` `ftp://h.example.com` is not an http(s) URL, as in https://hooks.example.com/slipway"])
        #expect(!parser.parseNotifySetting("[").diagnostics.isEmpty)
        #expect(!parser.parseNotifySetting("").diagnostics.isEmpty)
    }

    @Test func anEmptyListInAPolicySilencesIt() {
        let yaml = "service: web\nsource:\n  repo: https://github.com/acme/web.git\nimage: r.example.com/web\nnotify: []\n"
        let result = parser.parse(yaml: yaml, file: "web.yaml")
        #expect(result.diagnostics.isEmpty)
        #expect(result.policies.first?.policy.notify == [])
    }
}
