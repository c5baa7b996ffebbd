import Foundation
import SlipwayBuild
import Testing

@Suite struct BuildProgressTests {
    func replay(_ name: String) throws -> (lines: [String], progress: BuildProgress) {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        var progress = BuildProgress()
        var lines: [String] = []
        for line in try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isNewline) {
            lines += progress.consume(Data(line.utf8))
        }
        return (lines, progress)
    }

    /// Found by `deploy/fuzz buildkit`: a protobuf length past Int's range trapped the whole
    /// server; a malformed trace is now skipped and the lines around it still read.
    @Test func aTraceWithAHugeLengthIsSkippedNotATrap() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/fuzz-buildkit-length-past-int.jsonl", withExtension: nil))
        var found = BuildProgress()
        // It trapped here, ending the process (the fuzzer's input is not all UTF-8: fed as the engine's bytes).
        for line in try Data(contentsOf: url).split(separator: UInt8(ascii: "\n")) { _ = found.consume(Data(line)) }
        var fresh = BuildProgress()
        // Field 1 (vertexes), length-delimited, with a length varint of 2^64 - 1.
        let trace = Data([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).base64EncodedString()
        let line = #"{"id":"moby.buildkit.trace","aux":"\#(trace)"}"#
        #expect(fresh.consume(Data(line.utf8)).isEmpty)
        #expect(fresh.consume(Data(#"{"stream":"still reading\n"}"#.utf8)) == ["still reading"])
    }

    // Recorded from the Docker engine 20.10 (POST /build?version=2) building a
    // three-step Dockerfile on the busybox base.
    @Test func plainLogFromARecordedBuild() throws {
        let (lines, progress) = try replay("engine-build-ok.jsonl")
        #expect(lines.contains("#1 [internal] load remote build context"))
        #expect(lines.contains { $0.hasSuffix("[1/3] FROM docker.io/slipway/busybox:latest") })
        #expect(lines.contains { $0.hasSuffix("[2/3] RUN echo hello from build") })
        #expect(lines.contains { $0.hasSuffix(" hello from build") && !$0.contains("RUN") })
        #expect(lines.contains { $0.hasSuffix("[3/3] COPY a.txt /a.txt") })
        #expect(lines.filter { $0.contains(" DONE ") }.count >= 4)
        #expect(lines.last == "Successfully tagged 127.0.0.1:5999/t/web:abc")
        #expect(progress.error == nil)
        #expect(progress.imageID == "sha256:ff8f2b3560c85bd449152a65c343c1881e4526e4af22bd5888d94f57e9703b7a")
    }

    @Test func failedStepReportsTheError() throws {
        let (lines, progress) = try replay("engine-build-fail.jsonl")
        #expect(progress.error == "executor failed running [/bin/sh -c echo boom && exit 7]: exit code: 7")
        #expect(lines.contains { $0.hasSuffix(" boom") })
        #expect(lines.last == "ERROR: executor failed running [/bin/sh -c echo boom && exit 7]: exit code: 7")
    }

    @Test func garbageLinesDoNotCrash() {
        var progress = BuildProgress()
        #expect(progress.consume(Data(#"{"id":"moby.buildkit.trace","aux":"not base64!"}"#.utf8)) == [])
        #expect(progress.consume(Data(#"{"id":"moby.buildkit.trace","aux":"/////w=="}"#.utf8)) == [])
        #expect(progress.consume(Data("plain text".utf8)) == ["plain text"])
    }
}
