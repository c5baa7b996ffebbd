import SlipwayCore
import Testing

@Suite struct PathFilterTests {
    @Test(arguments: [
        // pattern(s), path, matches
        (["services/web/**"], "services/web/app.py", true),
        (["services/web/**"], "services/web/src/deep/x.ts", true),
        (["services/web/**"], "services/webhooks/app.py", false),
        (["services/web/**"], "services/api/app.py", false),
        (["services/web"], "services/web/app.py", true),            // a folder takes everything below it
        (["services/web/"], "services/web/app.py", true),
        (["./services/web"], "services/web/app.py", true),
        (["/services/web"], "services/web/app.py", true),
        (["services/web"], "services/web", true),                   // or a file of that name
        (["services/web"], "services/website/x", false),
        (["*.md"], "README.md", true),
        (["*.md"], "docs/README.md", false),                        // `*` stays in one segment
        (["**/*.md"], "docs/deep/README.md", true),
        (["**/*.md"], "README.md", true),                           // `**` may be no segment at all
        (["services/*/Dockerfile"], "services/web/Dockerfile", true),
        (["services/*/Dockerfile"], "services/web/sub/Dockerfile", false),
        (["services/**/Dockerfile"], "services/web/sub/Dockerfile", true),
        (["lib/?.go"], "lib/a.go", true),
        (["lib/?.go"], "lib/ab.go", false),
        (["lib/[ab].go"], "lib/b.go", true),
        (["lib/[!ab].go"], "lib/c.go", true),
        (["lib/[!ab].go"], "lib/a.go", false),
        (["lib/[a-c]*.go"], "lib/beta.go", true),
        (["src/**", "!src/**/*.md"], "src/a/README.md", false),      // the last matching pattern decides
        (["src/**", "!src/**/*.md"], "src/a/main.go", true),
        (["src/**", "!src/docs/**", "src/docs/api.yaml"], "src/docs/api.yaml", true),
        (["!docs/**"], "src/main.go", true),                        // only exclusions: everything else
        (["!docs/**"], "docs/index.md", false),
        ([String](), "anything", true),                             // no filter: every path
    ] as [([String], String, Bool)])
    func globs(patterns: [String], path: String, expected: Bool) {
        #expect(PathFilter(patterns).matches(path) == expected, "\(patterns) vs \(path)")
    }

    @Test func filesUnderAFolderAreOneSortedRange() {
        let files = ChangedFiles(["b/x", "a/y", "a/x", "ab/z", "/a/w", "a/x"])
        #expect(files.count == 5)
        #expect(Array(files.paths(under: "a/")) == ["a/w", "a/x", "a/y"])
        #expect(Array(files.paths(under: "ab/")) == ["ab/z"])
        #expect(Array(files.paths(under: "c/")).isEmpty)
        #expect(Array(files.paths(under: "")).count == 5)
    }

    @Test func firstMatchLooksOnlyUnderTheLiteralPrefixButStillHonoursExclusions() {
        let files = ChangedFiles(["services/web/README.md", "services/web/app.py", "services/api/app.py"])
        #expect(PathFilter(["services/web/**", "!**/*.md"]).firstMatch(in: files) == "services/web/app.py")
        #expect(PathFilter(["services/db/**"]).firstMatch(in: files) == nil)
        #expect(PathFilter(["**/app.py"]).firstMatch(in: files) == "services/api/app.py")
        // A pattern naming a file (or a submodule) finds that file itself.
        let root = ChangedFiles(["go.mod", "shared/config.yaml", "shared/config.yaml.bak"])
        #expect(PathFilter(["go.mod"]).firstMatch(in: root) == "go.mod")
        #expect(PathFilter(["shared/config.yaml"]).firstMatch(in: root) == "shared/config.yaml")
        #expect(PathFilter(["shared/config.yml"]).firstMatch(in: root) == nil)
    }
}

@Suite struct MonorepoMatchingTests {
    let repo = try! RepoURL("https://github.com/acme/mono.git")
    var routes: [EventMatching.Route] {
        [EventMatching.Route(service: "web", repo: repo, branch: "main", paths: ["services/web/**"]),
         EventMatching.Route(service: "api", repo: repo, branch: "main", paths: ["services/api/**", "libs/**"]),
         EventMatching.Route(service: "all", repo: repo, branch: "main")]
    }
    let before = String(repeating: "1", count: 40)
    let after = String(repeating: "2", count: 40)

    func push(changed: [String]?, before: String? = nil) -> NormalizedEvent {
        var event = NormalizedEvent(provider: .github, kind: .push, event: "push",
                                    repository: .init(fullName: "acme/mono", cloneURL: "https://github.com/acme/mono.git"),
                                    ref: "refs/heads/main", branch: "main", before: before ?? self.before, after: after, deleted: false)
        event.changedPaths = changed
        return event
    }

    @Test func aPushDeploysOnlyTheServicesWhosePathsItTouchesAndSaysWhyNotTheOthers() {
        let outcomes = EventMatching.outcomes(for: push(changed: ["services/web/app.py", "README.md"]), routes: routes)
        #expect(outcomes == [
            .deploy(service: "all", sha: after),
            .skip(service: "api", reason: "no changed file is under the policy's paths `services/api/**`, `libs/**`; 2 files changed (e.g. README.md)"),
            .deploy(service: "web", sha: after),
        ])
        let (word, detail) = EventMatching.summary(for: push(changed: ["services/web/app.py"]), outcomes: outcomes)
        #expect(word == "queued")
        #expect(detail["api"]?.hasPrefix("skipped because no changed file is under") == true)
    }

    @Test func withoutAFileListTheDecisionWaitsForGit() {
        let outcomes = EventMatching.outcomes(for: push(changed: nil), routes: routes)
        #expect(outcomes == [.deploy(service: "all", sha: after), .awaitChangedPaths(service: "api", sha: after),
                             .awaitChangedPaths(service: "web", sha: after)])
        let resolved = EventMatching.resolve(outcomes, routes: routes, before: before, changedPaths: ["libs/db/pool.go"])
        #expect(resolved[0] == .deploy(service: "all", sha: after))
        #expect(resolved[1] == .deploy(service: "api", sha: after))
        guard case .skip(let service, let reason) = resolved[2] else { Issue.record("web should be skipped"); return }
        #expect(service == "web" && reason.contains("1 file changed (libs/db/pool.go)"))
        #expect(EventMatching.summary(for: push(changed: nil), outcomes: Array(outcomes.dropFirst())).outcome == "matching")
    }

    @Test func aNewBranchHasNothingToCompareWithAndDeploys() {
        let outcomes = EventMatching.outcomes(for: push(changed: nil, before: String(repeating: "0", count: 40)), routes: routes)
        #expect(outcomes.allSatisfy { if case .deploy = $0 { true } else { false } })
    }

    @Test func aPolicyNamingTheSSHAddressMatchesAPayloadsOtherURL() {
        let ssh = [EventMatching.Route(service: "ssh", repo: try! RepoURL("ssh://git@bitbucket.example.com:7999/proj/shop.git"), branch: "main")]
        let event = NormalizedEvent(provider: .bitbucketServer, kind: .push, event: "repo:refs_changed",
                                    repository: .init(fullName: "PROJ/shop", cloneURL: "https://bitbucket.example.com/scm/proj/shop.git",
                                                      otherURLs: ["ssh://git@bitbucket.example.com:7999/proj/shop.git"]),
                                    ref: "refs/heads/main", branch: "main", before: before, after: after, deleted: false)
        #expect(EventMatching.outcomes(for: event, routes: ssh) == [.deploy(service: "ssh", sha: after)])
    }

    @Test func aThousandFiltersAgainstAThousandFilesStayCheap() {
        // Correctness of the indexed path, at the fan-out benchmark's scale.
        let many = (1...1500).map { EventMatching.Route(service: String(format: "svc-%04d", $0), repo: repo, branch: "main",
                                                        paths: [String(format: "services/svc-%04d/**", $0)]) }
        let files = (1...1500).filter { $0 % 3 == 0 }.map { String(format: "services/svc-%04d/app.py", $0) }
        let outcomes = EventMatching.outcomes(for: push(changed: files), routes: many)
        #expect(outcomes.filter { if case .deploy = $0 { true } else { false } }.count == 500)
    }
}
