import Foundation
import Logging
import SlipwayAWS
import SlipwayDocker
import SlipwayRuntime

/// The runtimes and registry logins of this process: the Docker engine always; ECS and
/// ECR logins when AWS settings resolve (region and a credential source, the way the AWS
/// SDKs find them).
struct RuntimeWiring {
    var runtimes: Runtimes
    var registryAuth: RegistryAuthProvider

    init(engine: DockerEngine, network: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
         logger: Logger) {
        switch Self.aws(environment: environment) {
        case .success(let client):
            let logins = ECRLogins(client: client)
            registryAuth = logins.provider
            runtimes = Runtimes(docker: DockerRuntime(engine: engine, network: network, auth: logins.provider), ecs: ECSRuntime(client: client))
        case .failure(let problem):
            logger.debug("no ECS runtime", metadata: ["reason": "\(problem.description)"])
            registryAuth = RegistryAuth.anonymous
            runtimes = Runtimes(docker: DockerRuntime(engine: engine, network: network), ecs: nil, ecsUnavailable: problem.description)
        }
    }

    static func aws(environment: [String: String]) -> Result<AWSClient, AWSSettings.Problem> {
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
        return .success(AWSClient(region: region, environment: environment) { try await provider.credentials() })
    }
}
