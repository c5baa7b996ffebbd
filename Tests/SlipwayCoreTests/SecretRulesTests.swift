import SlipwayCore
import Testing

/// What a policy's secret references may name on the server.
@Suite struct SecretRulesTests {
    let rules = SecretRules.standard(dataDirectory: "/var/lib/slipway")

    @Test(arguments: [
        "env:SLIPWAY_SECRET_NPM_TOKEN", "file:/run/secrets/slipway/npmrc", "file:/run/secrets/slipway/team/key", "file:/var/lib/slipway/secrets/login",
        "arn:aws:ssm:us-east-1:123456789012:parameter/db",
    ])
    func allowed(_ text: String) throws {
        #expect(rules.problem(try SecretReference(parsing: text)) == nil)
    }

    @Test(arguments: [
        ("env:SLIPWAY_WEBHOOK_SECRET_GITHUB", "Slipway's own server"), ("env:DATABASE_URL", "Slipway's own server"),
        ("env:AWS_SECRET_ACCESS_KEY", "Slipway's own server"), ("env:SLIPWAY_TOKEN", "Slipway's own server"),
        ("env:NPM_TOKEN", "must start with `SLIPWAY_SECRET_`"), ("file:/etc/shadow", "put the file in /run/secrets/slipway/"),
        ("file:/run/secrets/db-password", "not in a folder"),
        ("file:/run/secrets/slipway/kubernetes.io/serviceaccount/token", "service-account token"),
        ("file:/run/secrets/slipway/eks.amazonaws.com/serviceaccount/token", "service-account token"),
        ("file:/run/secretsx/a", "not in a folder"), ("file:/var/lib/slipway/mirrors/x", "not in a folder"),
        ("file:/run/secrets/slipway", "not in a folder"),
    ])
    func refused(_ text: String, _ says: String) throws {
        let problem = rules.problem(try SecretReference(parsing: text))
        #expect(problem?.contains(says) == true, "\(String(describing: problem))")
    }

    /// An operator's prefix cannot open Slipway's own settings.
    @Test func ownSettingsStayClosedWhateverThePrefix() throws {
        let wide = SecretRules(environmentPrefixes: ["SLIPWAY_", "AWS_", "NPM_"], folders: ["/"])
        #expect(wide.problem(try SecretReference(parsing: "env:SLIPWAY_WEBHOOK_SECRET_GITLAB")) != nil)
        #expect(wide.problem(try SecretReference(parsing: "env:AWS_ACCESS_KEY_ID")) != nil)
        #expect(wide.problem(try SecretReference(parsing: "env:NPM_TOKEN")) == nil)
        #expect(wide.problem(try SecretReference(parsing: "file:/etc/npmrc")) == nil)
    }
}
