import Foundation
import Host
import SBSCore
import StepGraph
import TestSupport
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
            #expect(
                bundled.paths(under: prefix) == paths, "rebuild: the embedded \(prefix) differs from the repository")
            for path in paths { #expect(bundled.file(path) == folder.file(path), "\(path) differs") }
        }
    }

    @Test func theBuiltInGraphLoadsWithEveryActionKnown() throws {
        let graph = try InstallSession(layout: Layout(root: "/tmp/unused"), sysroot: nil, assetsDirectory: nil).graph()
        #expect(graph.steps.count == 17)
        #expect(graph["pull-models"]?.when?.keys == ["choose-profile.runsOllama"])
    }

    @Test func aTypoInAWhenKeyStopsTheGraphFromLoading() throws {
        let dir = Scratch.path("assets")
        try FileManager.default.copyItem(atPath: repository + "/steps", toPath: dir + "/steps")
        try FileManager.default.copyItem(atPath: repository + "/assets", toPath: dir + "/assets")
        let file = dir + "/steps/pull-models.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "choose-profile.runsOllama", with: "choose-profile.runOllama")
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            try InstallSession(layout: Layout(root: "/tmp/unused"), sysroot: nil, assetsDirectory: dir).graph()
        } throws: { error in
            String(describing: error).contains(
                "steps/pull-models.yaml:5: when names 'choose-profile.runOllama', which 'choose-profile' does not output (did you mean 'choose-profile.runsOllama'?)"
            )
        }
        // An answer key misspelt is caught the same way.
        try text.replacingOccurrences(of: "when: choose-profile.runsOllama", with: "when: features.monitorng")
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            try InstallSession(layout: Layout(root: "/tmp/unused"), sysroot: nil, assetsDirectory: dir).graph()
        } throws: { error in
            String(describing: error).contains("did you mean 'features.monitoring'?")
        }
    }
}

@Suite struct SecretDigests {
    @Test func aSecretEntersInputsOnlyAsAKeyedHashAndPlansMakeNoKey() throws {
        let root = Scratch.path("digest")
        let layout = Layout(root: root)
        let throwAway = try SecretDigester.load(layout, create: false)
        #expect(!FileManager.default.fileExists(atPath: root), "a digester for a plan wrote under the root")
        let digester = try SecretDigester.load(layout, create: true)
        let first = digester.digest("sk-secret-value")
        #expect(!first.description.contains("sk-secret"))
        #expect(try SecretDigester.load(layout, create: false).digest("sk-secret-value") == first)
        #expect(digester.digest("sk-other-value") != first)
        #expect(throwAway.digest("sk-secret-value") != first)
        let mode =
            try FileManager.default.attributesOfItem(atPath: root + "/var/lib/sbs/fingerprint.key")[.posixPermissions]
            as? Int
        #expect(mode == 0o600)
    }

    @Test func buildingEveryInputIsPureAndTheSameTwice() throws {
        let root = Scratch.path("pure")
        let session = InstallSession(layout: Layout(root: root), sysroot: nil, assetsDirectory: nil)
        var answers = try AnswersFile.parse(
            """
            version: 1
            domain: shop.example.com
            admin_email: admin@example.com
            secrets:
              anthropic_api_key: sk-literal-value
            """, file: "a.yaml")
        answers.eabKeyID = "kid"
        answers.eabHMACKey = .literal("eab-hmac-key-value")
        let checked = session.readable(answers)
        let table = try session.actions(checked, createKey: false)
        let executor = try session.executor(checked, createKey: false)
        var state = RunState()
        // Outputs as the steps before would leave them, so every Input can be built.
        state["detect-hardware"].status = .succeeded
        state["detect-hardware"].output = try JSONValue(encoding: InstallSession.referenceHost)
        state["choose-profile"].status = .succeeded
        let profile = try ProfileTable(yaml: session.assets.text("assets/profiles.yaml"))
            .choose(for: InstallSession.referenceHost, request: ProfileChoiceRequest())
        state["choose-profile"].output = try JSONValue(encoding: profile)
        state["generate-secrets"].status = .succeeded
        state["generate-secrets"].output = .object(["secrets": .object(["hex": .string("00")])])
        func done<A: StepAction>(_ step: String, _ action: A.Type, _ output: A.Output) throws {
            state[step].status = .succeeded
            state[step].output = try JSONValue(encoding: output)
        }
        try done("write-configs", WriteConfigs.self, .init(deployDir: root + "/opt/sbs"))
        try done("ensure-docker", EnsureDocker.self, .init(engineVersion: "20.10", composeVersion: "2.40"))
        try done("start-proxy", StartProxy.self, Nothing())
        try done(
            "obtain-certificate", ObtainCertificate.self,
            .init(liveDirectory: root + "/etc/sbs/ssl/live/shop.example.com", mode: "acme"))
        try done("start-stack", StartStack.self, .init(services: ["app-db", "nginx"]))
        try done("pull-models", PullModels.self, .init(models: []))
        for step in executor.graph.steps {
            let needs = executor.neededOutputs(step, state: state)
            let first = try table.input(of: step, needs: needs)
            #expect(try table.input(of: step, needs: needs) == first, "\(step.id)")
            let text = String(decoding: first, as: UTF8.self)
            #expect(
                !text.contains("sk-literal-value") && !text.contains("eab-hmac-key-value"),
                "\(step.id) holds a secret in the clear")
        }
        #expect(!FileManager.default.fileExists(atPath: root), "building inputs wrote under the root")
    }
}
