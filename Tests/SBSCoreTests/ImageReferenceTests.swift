import SBSCore
import Testing

@Suite struct ImageReferences {
    /// `sbs upgrade --to VERSION` moves an image to another tag of the same repository: a registry's port, a
    /// digest or a missing tag do not confuse it, and the result is checked as every image name is.
    @Test(arguments: [
        ("orchestrator-ai/api:1.0.0", "orchestrator-ai/api:1.1.0"),
        ("127.0.0.1:14210/orchestrator-ai/api:1.0.0", "127.0.0.1:14210/orchestrator-ai/api:1.1.0"),
        ("registry.example.com:5000/org/web", "registry.example.com:5000/org/web:1.1.0"),
        (
            "orchestrator-ai/web:1.0.0@sha256:" + String(repeating: "a", count: 64),
            "orchestrator-ai/web:1.1.0"
        ),
        ("nginx", "nginx:1.1.0"),
    ])
    func aNewTagReplacesTheTagAndTheDigest(image: String, moved: String) throws {
        #expect(try ImageReference(image).withTag("1.1.0").value == moved)
    }

    @Test func aTagThatIsNoTagIsRefused() throws {
        #expect(throws: UserError.self) { try ImageReference("orchestrator-ai/api:1.0.0").withTag("1.1/../x") }
        #expect(throws: UserError.self) { try ImageReference("orchestrator-ai/api:1.0.0").withTag("") }
    }
}
