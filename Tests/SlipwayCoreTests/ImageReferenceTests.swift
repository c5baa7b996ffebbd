import SlipwayCore
import Testing

@Suite struct ImageReferenceTests {
    @Test(arguments: [
        ("127.0.0.1:5000/acme/web", "127.0.0.1:5000", "acme/web", nil, nil),
        ("127.0.0.1:5000/acme/web:abc123", "127.0.0.1:5000", "acme/web", "abc123", nil),
        ("acme/web:1.2", nil, "acme/web", "1.2", nil),
        ("localhost/web", "localhost", "web", nil, nil),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "shop/web", nil, nil),
        ("busybox@sha256:" + String(repeating: "a", count: 64), nil, "busybox", nil, "sha256:" + String(repeating: "a", count: 64)),
    ] as [(String, String?, String, String?, String?)])
    func parses(text: String, registry: String?, path: String, tag: String?, digest: String?) throws {
        let ref = try ImageReference(parsing: text)
        #expect(ref.registry == registry)
        #expect(ref.path == path)
        #expect(ref.tag == tag)
        #expect(ref.digest == digest)
        #expect(ref.description == text)
    }

    @Test func tagsWithTheCommit() throws {
        let ref = try ImageReference(parsing: "127.0.0.1:5000/acme/web").withTag("0123abc")
        #expect(ref.description == "127.0.0.1:5000/acme/web:0123abc")
        #expect(ref.repository == "127.0.0.1:5000/acme/web")
    }

    @Test(arguments: ["", "Acme/Web", "acme/web:", "acme//web", "127.0.0.1:99999/web", "web@sha256:xyz", "web:-bad", "-web"])
    func rejects(text: String) {
        #expect(throws: ImageReference.Invalid.self) { try ImageReference(parsing: text) }
    }
}
