import Foundation

/// Where credentials come from, decided the way the AWS SDKs decide it, from the
/// environment and the shared config files alone (pure; the fetchers act on the answer):
/// environment keys → web identity → the profile's credentials/config files → the ECS
/// container endpoint → EC2 instance metadata (IMDSv2).
public enum CredentialSource: Sendable, Hashable {
    case environment(SigV4.Credentials)
    case webIdentity(tokenFile: String, roleARN: String, sessionName: String)
    case profile(name: String, SigV4.Credentials)
    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on 169.254.170.2) or `_FULL_URI`, with the
    /// authorization token or the file that holds it.
    case container(url: String, authorization: String?, authorizationFile: String?)
    case instanceMetadata

    public var description: String {
        switch self {
        case .environment: "environment (AWS_ACCESS_KEY_ID)"
        case .webIdentity(_, let role, _): "web identity (\(role))"
        case .profile(let name, _): "profile \(name)"
        case .container(let url, _, _): "container credentials (\(url))"
        case .instanceMetadata: "EC2 instance metadata"
        }
    }
}

/// What the environment and the shared files say about AWS.
public struct AWSSettings: Sendable, Hashable {
    public var credentials: CredentialSource
    public var region: String?
    public var profile: String

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// `files` reads a path (the shared credentials and config files); `home` is `~`.
    public static func resolve(environment env: [String: String], home: String,
                               files: (String) -> String?) throws(Problem) -> AWSSettings {
        func value(_ key: String) -> String? { env[key].flatMap { $0.isEmpty ? nil : $0 } }
        let profile = value("AWS_PROFILE") ?? value("AWS_DEFAULT_PROFILE") ?? "default"
        let credentialsFile = value("AWS_SHARED_CREDENTIALS_FILE") ?? "\(home)/.aws/credentials"
        let configFile = value("AWS_CONFIG_FILE") ?? "\(home)/.aws/config"
        let credentialSections = files(credentialsFile).map(INI.parse) ?? [:]
        let configSections = files(configFile).map(INI.parse) ?? [:]
        let fromCredentials = credentialSections[profile]
        let fromConfig = configSections[profile == "default" ? "default" : "profile \(profile)"] ?? configSections[profile]
        let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? fromConfig?["region"] ?? fromCredentials?["region"]

        if let key = value("AWS_ACCESS_KEY_ID") {
            guard let secret = value("AWS_SECRET_ACCESS_KEY") else {
                throw Problem(description: "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY; set both, or neither to use a profile or the instance's role")
            }
            return AWSSettings(credentials: .environment(.init(accessKeyID: key, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))),
                               region: region, profile: profile)
        }
        if let tokenFile = value("AWS_WEB_IDENTITY_TOKEN_FILE"), let role = value("AWS_ROLE_ARN") {
            return AWSSettings(credentials: .webIdentity(tokenFile: tokenFile, roleARN: role,
                                                         sessionName: value("AWS_ROLE_SESSION_NAME") ?? "slipway"),
                               region: region, profile: profile)
        }
        for section in [fromCredentials, fromConfig].compactMap({ $0 }) {
            if let key = section["aws_access_key_id"] {
                guard let secret = section["aws_secret_access_key"] else {
                    throw Problem(description: "profile \(profile) has aws_access_key_id without aws_secret_access_key (\(credentialsFile))")
                }
                return AWSSettings(credentials: .profile(name: profile, .init(accessKeyID: key, secretAccessKey: secret,
                                                                             sessionToken: section["aws_session_token"])),
                                   region: region, profile: profile)
            }
        }
        if value("AWS_PROFILE") != nil, fromCredentials == nil, fromConfig == nil {
            throw Problem(description: "AWS_PROFILE is \(profile), but neither \(credentialsFile) nor \(configFile) has that profile")
        }
        if let relative = value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return AWSSettings(credentials: .container(url: "http://169.254.170.2\(relative)", authorization: value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                                                       authorizationFile: value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")),
                               region: region, profile: profile)
        }
        if let full = value("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            return AWSSettings(credentials: .container(url: full, authorization: value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                                                       authorizationFile: value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")),
                               region: region, profile: profile)
        }
        if value("AWS_EC2_METADATA_DISABLED")?.lowercased() == "true" {
            throw Problem(description: "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role (ECS task role, EC2 instance profile, web identity)")
        }
        return AWSSettings(credentials: .instanceMetadata, region: region, profile: profile)
    }
}

/// Where each AWS API is reached: `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`,
/// then the public endpoint of the region.
public enum AWSEndpoint {
    public enum Service: String, Sendable, CaseIterable {
        case ecs, ecr, logs, sts, ec2
        /// Elastic Load Balancing v2 (ALB listener rules and target groups).
        case elbv2

        /// The suffix of `AWS_ENDPOINT_URL_…`.
        var variable: String {
            switch self {
            case .ecs: "ECS"
            case .ecr: "ECR"
            case .logs: "CLOUDWATCH_LOGS"
            case .sts: "STS"
            case .ec2: "EC2"
            case .elbv2: "ELASTIC_LOAD_BALANCING_V2"
            }
        }

        var host: String {
            switch self {
            case .ecs: "ecs"
            case .ecr: "api.ecr"
            case .logs: "logs"
            case .sts: "sts"
            case .ec2: "ec2"
            case .elbv2: "elasticloadbalancing"
            }
        }

        /// The service prefix of its IAM actions.
        public var iamPrefix: String { self == .elbv2 ? "elasticloadbalancing" : rawValue }

        /// The name in the signature's scope.
        public var signingName: String {
            switch self {
            case .ecr: "ecr"
            case .elbv2: "elasticloadbalancing"
            default: rawValue
            }
        }
    }

    public static func url(_ service: Service, region: String, environment env: [String: String]) -> String {
        if let specific = env["AWS_ENDPOINT_URL_\(service.variable)"], !specific.isEmpty { return specific }
        if let global = env["AWS_ENDPOINT_URL"], !global.isEmpty { return global }
        let domain = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return "https://\(service.host).\(region).\(domain)"
    }
}

/// The AWS shared files' INI: `[section]`, `key = value`, `#`/`;` comments.
enum INI {
    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                sections[current!, default: [:]] = sections[current!] ?? [:]
                continue
            }
            guard let current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
        return sections
    }
}
