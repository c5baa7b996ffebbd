public enum StoreError: Error, CustomStringConvertible {
    case unknownService(String)
    case unknownDeployment(Int64)
    case corrupt(String)
    case unreachable(String)

    public var description: String {
        switch self {
        case .unreachable(let message):
            message
        case .unknownService(let name):
            "no service `\(name)`; `slipway status` lists the services of the policies in force"
        case .unknownDeployment(let id):
            "no deployment \(id); `slipway status SERVICE` lists deployment ids"
        case .corrupt(let detail):
            "unexpected data in the database: \(detail)"
        }
    }
}
