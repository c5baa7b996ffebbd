import Foundation
import Logging
import SlipwayAWS
import SlipwayDocker
import SlipwayRuntime

/// The runtimes of this process: the Docker engine always, ECS when AWS settings resolve
/// (region and a credential source, the way the AWS SDKs find them).
enum RuntimeWiring {
    static func runtimes(engine: DockerEngine, network: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                         logger: Logger) -> Runtimes {
        let docker = DockerRuntime(engine: engine, network: network)
        switch ecs(environment: environment) {
        case .success(let ecs):
            return Runtimes(docker: docker, ecs: ecs)
        case .failure(let problem):
            logger.debug("no ECS runtime", metadata: ["reason": "\(problem.description)"])
            return Runtimes(docker: docker, ecs: nil, ecsUnavailable: problem.description)
        }
    }

    static func ecs(environment: [String: String]) -> Result<ECSRuntime, AWSSettings.Problem> {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let settings: AWSSettings
        do {
            settings = try AWSSettings.resolve(environment: environment, home: home) { try? String(contentsOfFile: $0, encoding: .utf8) }
        } catch {
            return .failure(error)
        }
        guard let region = settings.region else {
            return .failure(AWSSettings.Problem(description: "no AWS region: set AWS_REGION, or region in the AWS profile"))
        }
        let provider = CredentialProvider(settings: settings, environment: environment)
        let client = AWSClient(region: region, environment: environment) { try await provider.credentials() }
        return .success(ECSRuntime(client: client))
    }
}
