/// Where a secret lives — never the secret itself: `env:NAME` (the Slipway server's
/// environment), `file:/abs/path` (a file on the Slipway server), or an AWS Secrets
/// Manager / SSM Parameter Store ARN. Encoded as the text it was written as.
public enum SecretReference: Sendable, Hashable, Codable, CustomStringConvertible {
    case environment(String)
    case file(String)
    case aws(AWSSecretARN)

    public struct Problem: Error, Sendable, Hashable { public var message: String }

    public init(parsing text: String) throws(Problem) {
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            guard VariableName.isValid(name) else {
                throw Problem(message: "`\(text)`: after `env:` comes an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
            }
            self = .environment(name)
        } else if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/"), path.count > 1, !path.split(separator: "/").contains("..") else {
                throw Problem(message: "`\(text)`: after `file:` comes an absolute path on the Slipway server, as in file:/run/secrets/slipway/token")
            }
            self = .file(path)
        } else if text.hasPrefix("arn:") {
            guard let arn = AWSSecretARN(text) else {
                throw Problem(message: "`\(text)` is not a Secrets Manager (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or SSM parameter (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME) ARN")
            }
            self = .aws(arn)
        } else {
            throw Problem(message: "`\(text)` is not a secret reference; write env:NAME, file:/path, or a Secrets Manager or SSM parameter ARN")
        }
    }

    public var description: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        case .aws(let arn): arn.text
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { self = try SecretReference(parsing: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME` or
/// `arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME`.
public struct AWSSecretARN: Sendable, Hashable {
    public enum Store: String, Sendable { case secretsManager = "secretsmanager", ssm }
    public var text: String
    public var store: Store

    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", AWSARN.partitions.contains(String(parts[1])),
              let store = Store(rawValue: String(parts[2])), AWSARN.isRegion(parts[3]), AWSARN.isAccount(parts[4])
        else { return nil }
        let resource = parts[5]
        switch store {
        case .secretsManager:
            guard resource.hasPrefix("secret:"), resource.count > 7 else { return nil }
        case .ssm:
            guard resource.hasPrefix("parameter/"), resource.count > 10 else { return nil }
        }
        self.text = text
        self.store = store
    }
}

/// Shapes of AWS identifiers that policies name.
public enum AWSARN {
    public static let partitions: Set<String> = ["aws", "aws-cn", "aws-us-gov"]

    static func isRegion(_ text: Substring) -> Bool {
        // us-east-1, eu-central-2, us-gov-west-1, cn-north-1
        let parts = text.split(separator: "-")
        guard parts.count >= 3, let last = parts.last, last.allSatisfy(\.isNumber) else { return false }
        return parts.dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isLowercase } }
    }

    static func isAccount(_ text: Substring) -> Bool {
        text.count == 12 && text.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// `arn:aws:iam::123456789012:role/NAME` (paths allowed: `role/service/NAME`).
    public static func isRole(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", partitions.contains(String(parts[1])), parts[2] == "iam",
              parts[3].isEmpty, isAccount(parts[4]), parts[5].hasPrefix("role/") else { return false }
        let name = parts[5].dropFirst(5)
        return !name.isEmpty && !name.hasSuffix("/")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+=,.@_-/".contains($0)) }
    }

    /// `subnet-` or `sg-` followed by 8 or 17 lowercase hex digits.
    public static func isResourceID(_ text: String, prefix: String) -> Bool {
        guard text.hasPrefix(prefix + "-") else { return false }
        let hex = text.dropFirst(prefix.count + 1)
        return (hex.count == 8 || hex.count == 17) && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}

/// Environment variable and build argument names.
public enum VariableName {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
