import Foundation
import SBSCore
import StepGraph
import Testing
import Wizard
@testable import Installer

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite struct BundledAssetsMatchTheRepository {
    @Test func everyFileOfStepsAndAssetsIsBuiltInWithItsPathAndBytes() {
        let bundled = BundledAssetSource()
        let folder = DirectoryAssetSource(root: repository)
        for prefix in ["steps/", "assets/"] {
            let paths = folder.paths(under: prefix)
            #expect(!paths.isEmpty)
            #expect(bundled.paths(under: prefix) == paths, "rebuild: the embedded \(prefix) differs from the repository")
            for path in paths { #expect(bundled.file(path) == folder.file(path), "\(path) differs") }
        }
    }

    @Test func theBuiltInGraphLoadsWithEveryActionKnown() throws {
        let context = InstallContext(layout: Layout(root: "/tmp/unused"), assets: BundledAssetSource(),
                                     commands: SystemCommandRunner(), answers: Answers())
        let graph = try InstallActions(context: context).loadGraph()
        #expect(graph.steps.count == 14)
    }

    @Test func aChangedTemplateChangesTheDigestWriteConfigsFingerprints() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbs-assets-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/assets/deploy", withIntermediateDirectories: true)
        try "a".write(toFile: dir + "/assets/deploy/x.mustache", atomically: true, encoding: .utf8)
        let source = DirectoryAssetSource(root: dir)
        let before = source.digest(under: "assets/deploy/")
        try "b".write(toFile: dir + "/assets/deploy/x.mustache", atomically: true, encoding: .utf8)
        #expect(source.digest(under: "assets/deploy/") != before)
    }
}

@Suite struct SecretDigests {
    @Test func aSecretEntersFingerprintsOnlyAsAKeyedHash() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sbs-digest-\(UUID().uuidString)").path
        let context = InstallContext(layout: Layout(root: root), assets: BundledAssetSource(), commands: SystemCommandRunner(),
                                     answers: Answers())
        let first = try context.secretDigest("sk-secret")
        #expect(first.hasPrefix("hmac:"))
        #expect(!first.contains("sk-secret"))
        #expect(try context.secretDigest("sk-secret") == first)
        #expect(try context.secretDigest("sk-other") != first)
        let mode = try FileManager.default.attributesOfItem(atPath: root + "/var/lib/sbs/fingerprint.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
