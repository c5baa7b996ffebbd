import SlipwayCore
import AsyncHTTPClient
import Foundation
import NIOCore

/// One container as the engine's list shows it (no inspect per container).
public struct ContainerSummary: Sendable, Hashable {
    public var id: String
    public var image: String
    public var labels: [String: String]
    /// `created`, `running`, `restarting`, `exited`, …
    public var state: String
}

extension DockerEngine {
    /// Every container (running or not) carrying all of `labels` (a key alone matches any value).
    public func containerSummaries(labels: [String]) async throws -> [ContainerSummary] {
        struct Summary: Decodable { var Id: String; var Image: String; var Labels: [String: String]?; var State: String }
        let filterJSON = String(decoding: try JSONEncoder().encode(["label": labels]), as: UTF8.self)
        return try await decode([Summary].self, .GET, "/containers/json", query: [("all", "1"), ("filters", filterJSON)])
            .map { ContainerSummary(id: $0.Id, image: $0.Image, labels: $0.Labels ?? [:], state: $0.State) }
    }

    /// The manifest digest the registry holds for `reference` (asked through the engine,
    /// with its registry settings); nil when the registry has no such tag.
    public func registryDigest(_ reference: String, auth: RegistryLogin) async throws -> String? {
        struct Answer: Decodable { struct Descriptor: Decodable { var digest: String }; var Descriptor: Descriptor }
        let response = try await send(.GET, "/distribution/\(reference)/json", headers: [("X-Registry-Auth", auth.header)],
                                      timeout: .seconds(20))
        let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        switch response.status.code {
        case 200..<300: return try JSONDecoder().decode(Answer.self, from: data).Descriptor.digest
        // The engine answers a missing tag with 404, or with 401/403 for some registries ("not found or no access").
        case 404: return nil
        default: throw DockerError(status: Int(response.status.code), message: Self.message(from: data))
        }
    }
}
