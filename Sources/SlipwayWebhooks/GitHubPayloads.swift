/// The parts of GitHub's webhook payloads Slipway reads; everything else is tolerated.
struct GitHubRepository: Decodable {
    var full_name: String?
    var clone_url: String?
    var html_url: String?
    var ssh_url: String?
    var git_url: String?
}

struct GitHubCommit: Decodable {
    var added: [String]?
    var removed: [String]?
    var modified: [String]?
}

struct GitHubPush: Decodable {
    var ref: String
    var before: String?
    var after: String?
    var deleted: Bool?
    var forced: Bool?
    var commits: [GitHubCommit]?
    var repository: GitHubRepository?
}

/// `create` and `delete`: `ref` is the short name.
struct GitHubRefEvent: Decodable {
    var ref: String
    var ref_type: String
    var repository: GitHubRepository?
}

struct GitHubPullRequestEvent: Decodable {
    struct Branch: Decodable {
        var ref: String?
        var sha: String?
        var repo: GitHubRepository?
    }
    struct PullRequest: Decodable {
        var number: Int?
        var merged: Bool?
        var head: Branch?
        var base: Branch?
    }
    var action: String
    var number: Int?
    var before: String?
    var pull_request: PullRequest
    var repository: GitHubRepository?
}

struct GitHubAnyEvent: Decodable {
    var repository: GitHubRepository?
}
