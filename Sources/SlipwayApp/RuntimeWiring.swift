import SlipwayCore
import Foundation
import Logging
import SlipwayAWS
import SlipwayDocker
import SlipwayRegistry
import SlipwayRuntime
import SlipwaySystem

/// The runtimes and registry logins of this process: the Docker engine always; ECS and
/// ECR logins when AWS settings resolve (region and a credential source, the way the AWS
/// SDKs find them).
public struct RuntimeWiring: Sendable {
    public var runtimes: Runtimes
    /// Registry logins for the engine's pushes and pulls: ECR's from AWS, others from ~/.docker/config.json.
    public var registryAuth: RegistryLoginProvider

    /// - Parameter installation: labels this installation's containers (`Store.installationID`); nil labels none.
    public init(engine: DockerEngine, network: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
         secrets: SecretReader = .standard, installation: String? = nil, logger: Logger) {
        let config = DockerConfig.load(environment: environment)
        let fromConfig: RegistryLoginProvider = { host in
            var login = config.credentials(for: host ?? "docker.io") ?? .none
            login.serveraddress = host
            return login
        }
        switch Self.aws(environment: environment) {
        case .success(let client):
            let logins = ECRLogins(client: client, fallback: fromConfig)
            registryAuth = logins.provider
            runtimes = Runtimes(docker: DockerRuntime(engine: engine, network: network, auth: logins.provider, secrets: secrets,
                                                          installation: installation),
                                ecs: ECSRuntime(client: client))
        case .failure(let problem):
            logger.debug("no ECS runtime", metadata: ["reason": "\(problem.description)"])
            registryAuth = fromConfig
            runtimes = Runtimes(docker: DockerRuntime(engine: engine, network: network, auth: fromConfig, secrets: secrets,
                                                          installation: installation), ecs: nil,
                                ecsUnavailable: problem.description)
        }
    }

    /// The same logins for Slipway's own registry calls (retention, digest checks).
    public var registry: RegistryClient {
        let auth = registryAuth
        return RegistryClient { host in try await auth(host) }
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
