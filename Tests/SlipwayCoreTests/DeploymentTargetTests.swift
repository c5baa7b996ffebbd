import Foundation
import SlipwayCore
import Testing

@Suite struct DeploymentTargetTests {
    typealias Environment = DeploymentTarget.Environment

    @Test(arguments: [
        ("main", Environment?.some(.main)), ("pr-1", .pullRequest(1)), ("pr-4711", .pullRequest(4711)),
        ("pr-0", nil), ("pr-", nil), ("pr-01", nil), ("pr--3", nil), ("pr-+3", nil), ("pr-٣", nil), ("Main", nil), ("", nil),
        ("pr-12 ", nil), ("staging", nil),
    ])
    func environmentsParse(_ text: String, _ expected: Environment?) {
        #expect(Environment(rawValue: text) == expected)
        if let expected { #expect(expected.rawValue == text) }
    }

    @Test(arguments: [
        (DeploymentTarget.main("web"), "web", "web", "slipway.target:web/main"),
        (DeploymentTarget(service: "web", environment: .pullRequest(12)), "web-pr-12", "web (pr-12)", "slipway.target:web/pr-12"),
    ])
    func namesKeepMainAsItWas(_ target: DeploymentTarget, _ runtimeName: String, _ description: String, _ lock: String) {
        #expect(target.runtimeName == runtimeName)
        #expect(target.description == description)
        #expect(target.lockKey == lock)
    }

    @Test func aPreviewAndItsServiceAreDifferentTargets() {
        let main = DeploymentTarget.main("web"), preview = DeploymentTarget(service: "web", environment: .pullRequest(3))
        #expect(main != preview && main.lockKey != preview.lockKey && main.runtimeName != preview.runtimeName)
        #expect(Environment.main < .pullRequest(1) && Environment.pullRequest(2) < .pullRequest(10))
    }

    @Test func environmentsRoundTripThroughJSONAndRefuseOtherText() throws {
        let data = try JSONEncoder().encode([Environment.main, .pullRequest(9)])
        #expect(String(decoding: data, as: UTF8.self) == #"["main","pr-9"]"#)
        #expect(try JSONDecoder().decode([Environment].self, from: data) == [.main, .pullRequest(9)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Environment].self, from: Data(#"["prod"]"#.utf8)) }
    }

    @Test func recordsAreMainUnlessSaid() {
        let record = DeploymentRecord(id: 1, service: "web", trigger: .push, state: .queued, createdAt: Date())
        #expect(record.target == .main("web"))
    }
}
