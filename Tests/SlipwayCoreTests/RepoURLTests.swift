import SlipwayCore
import Testing

@Suite struct RepoURLTests {
    @Test(arguments: [
        ("https://github.com/acme/shop.git", "github.com/acme/shop", RepoURL.Transport.https),
        ("https://GitHub.com/Acme/Shop", "github.com/Acme/Shop", .https),
        ("https://github.com:443/acme/shop.git/", "github.com/acme/shop", .https),
        ("git@github.com:acme/shop.git", "github.com/acme/shop", .ssh),
        ("ssh://git@github.com:22/acme/shop.git", "github.com/acme/shop", .ssh),
        ("ssh://git@gitlab.example.com:2222/group/sub/app.git", "gitlab.example.com:2222/group/sub/app", .ssh),
        ("http://127.0.0.1:8000/acme/shop.git", "127.0.0.1:8000/acme/shop", .http),
        ("file:///srv/git/shop.git", "file:///srv/git/shop", .local),
        ("/srv/git/shop.git/", "file:///srv/git/shop", .local),
        ("file:///srv/git/../git/Shop.git", "file:///srv/git/Shop", .local),
    ])
    func normalizes(text: String, key: String, transport: RepoURL.Transport) throws {
        let url = try RepoURL(text)
        #expect(url.key == key)
        #expect(url.transport == transport)
    }

    @Test func sameRepositoryAcrossForms() throws {
        let forms = ["https://github.com/acme/shop.git", "git@github.com:acme/shop", "ssh://git@GitHub.com/acme/shop.git"]
        #expect(Set(try forms.map { try RepoURL($0).key }).count == 1)
    }

    /// A case-sensitive server holds `Team/App` and `team/app` as two repositories.
    @Test func pathsKeepTheirCase() throws {
        #expect(try RepoURL("https://git.example.com/Team/App.git").key != RepoURL("https://git.example.com/team/app.git").key)
        #expect(try RepoURL("https://git.example.com/Team/App.git").key == "git.example.com/Team/App")
    }

    @Test(arguments: [
        "", "ext::sh -c touch% /tmp/pwned", "fd::17", "-uhelp", "git://github.com/acme/shop.git",
        "ftp://example.com/x.git", "file://relative/path", "relative/path", "https://", "https:///path",
        "https://github.com/acme/shop with space",
    ])
    func rejects(text: String) {
        #expect(throws: RepoURL.Invalid.self) { try RepoURL(text) }
    }
}
