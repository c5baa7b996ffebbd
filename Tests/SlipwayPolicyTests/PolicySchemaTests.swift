import Foundation
@testable import SlipwayPolicy
import Testing

/// The JSON Schema in manifests/ names exactly the keys the parser accepts.
@Suite struct PolicySchemaTests {
    let schema: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../manifests/policy.schema.json").standardized
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    func keys(_ path: [String]) -> Set<String> {
        var node = schema
        for part in path { node = (node["properties"] as! [String: Any])[part] as! [String: Any] }
        return Set((node["properties"] as! [String: Any]).keys)
    }

    @Test func sameKeysAsTheParser() {
        #expect(keys([]) == Set(PolicyParser.topKeys))
        #expect(keys(["source"]) == Set(PolicyParser.sourceKeys))
        #expect(keys(["build"]) == Set(PolicyParser.buildKeys))
        #expect(keys(["deploy"]) == Set(PolicyParser.deployKeys))
        #expect(keys(["rollback"]) == Set(PolicyParser.rollbackKeys))
        #expect(keys(["previews"]) == Set(PolicyParser.previewKeys))
        #expect(keys(["sync"]) == Set(PolicyParser.syncKeys))
        #expect(keys(["deploy", "healthCheck"]) == Set(PolicyParser.healthCheckKeys))
    }

    @Test func sameTargets() {
        let deploy = (schema["properties"] as! [String: Any])["deploy"] as! [String: Any]
        let target = (deploy["properties"] as! [String: Any])["target"] as! [String: Any]
        #expect(target["enum"] as? [String] == PolicyParser.supportedTargets.map(\.rawValue))
    }
}
