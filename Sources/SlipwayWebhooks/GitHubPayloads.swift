/// The parts of GitHub's webhook payloads Slipway reads.
struct GitHubRepository: Decodable {
    var full_name: String?
    var clone_url: String?
    var html_url: String?
    var ssh_url: String?
}

struct GitHubPush: Decodable {
    var ref: String
    var before: String?
    var after: String?
    var deleted: Bool?
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
    var pull_request: PullRequest
    var repository: GitHubRepository?
}

struct GitHubAnyEvent: Decodable {
    var repository: GitHubRepository?
}
