/// One problem in a policy file, printed as `file:line:col: message`.
public struct PolicyDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Everything wrong with a set of policy files; nothing of a set with errors is applied.
public struct PolicyErrors: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [PolicyDiagnostic]
    public init(_ diagnostics: [PolicyDiagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A valid policy and where it was declared.
public struct LocatedPolicy: Sendable, Hashable {
    public var policy: Policy
    public var file: String
    /// Where its `service` value is written.
    public var line: Int
    public var column: Int
    public init(policy: Policy, file: String, line: Int, column: Int = 1) {
        self.policy = policy
        self.file = file
        self.line = line
        self.column = column
    }
}

import SlipwayCore
