import ArgumentParser

@main
struct Slipway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slipway",
        abstract: "GitOps deploys: git push → build → registry → rollout, with rollback on crash.",
        discussion: """
            Settings come from flags, then the environment, then .env (see the README's table):
            DATABASE_URL, SLIPWAY_POLICIES, SLIPWAY_DATA_DIR, SLIPWAY_HTTP_ADDR, DOCKER_HOST, …
            """,
        subcommands: [
            ServeCommand.self, DevCommand.self, MigrateCommand.self, StatusCommand.self, LogsCommand.self,
            DeployCommand.self, RollbackCommand.self, BuildsCommand.self, EventsCommand.self, PoliciesCommand.self,
            PlanCommand.self, DetectCommand.self, ImagesCommand.self, PreviewsCommand.self, TokensCommand.self,
        ]
    )
}
