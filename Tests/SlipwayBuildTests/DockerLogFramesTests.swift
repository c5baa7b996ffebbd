import Foundation
import SlipwayDocker
import Testing

@Suite struct DockerLogFramesTests {
    func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        let n = UInt32(payload.count)
        return [stream, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload
    }

    @Test func interleavedStdoutAndStderr() {
        let data = Data(frame(1, "starting\n") + frame(2, "panic: boom\n") + frame(1, "partial ") + frame(1, "line\n"))
        #expect(DockerLogFrames.lines(data) == ["starting", "panic: boom", "partial line"])
    }

    @Test func unframedOutputFromATTY() {
        #expect(DockerLogFrames.lines(Data("a\r\nb\n".utf8)) == ["a", "b"])
    }

    @Test func empty() {
        #expect(DockerLogFrames.lines(Data()) == [])
    }
}
