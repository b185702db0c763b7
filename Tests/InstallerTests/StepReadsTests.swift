import Backups
import Foundation
import Host
import SBSCore
import StepGraph
import TestSupport
import Testing
import Wizard

@testable import Installer

/// A step reads only the steps its file names in `needs:`. Reads are code (`needs.output(of:)`), so the loader
/// cannot see them: these tests build every Input of the bundled graph, with an output for every step in the
/// state, so that a read beyond a step's needs fails here and not at a user's install.
@Suite struct StepsReadOnlyWhatTheyNeed {
    /// An output for every step of the bundled graph, as a run that got that far leaves it, for this profile.
    static func representativeState(_ session: InstallSession, root: String, profile: String) throws -> RunState {
        let resolved = try ProfileTable(yaml: session.assets.text("assets/profiles.yaml"))
            .choose(
                for: InstallSession.referenceHost, request: ProfileChoiceRequest(profile: try ProfileRequest(profile)))
        let outputs: [String: JSONValue] = [
            "preflight": try JSONValue(encoding: Nothing()),
            "detect-hardware": try JSONValue(encoding: InstallSession.referenceHost),
            "collect-answers": try JSONValue(encoding: Nothing()),
            "choose-profile": try JSONValue(encoding: resolved),
            "check-dns": try JSONValue(encoding: Nothing()),
            "generate-secrets": .object(["secrets": .object(["hex": .string("00")])]),
            "write-configs": try JSONValue(encoding: WriteConfigs.Output(deployDir: root + "/opt/sbs")),
            "ensure-docker": try JSONValue(
                encoding: EnsureDocker.Output(engineVersion: "27.3", composeVersion: "2.40")),
            "restore-database": try JSONValue(encoding: Nothing()),
            "configure-firewall": try JSONValue(
                encoding: ConfigureFirewall.Output(
                    firewall: "nftables", sshPorts: [22], allowedPorts: [22, 80, 443], active: true)),
            "start-proxy": try JSONValue(encoding: Nothing()),
            "obtain-certificate": try JSONValue(
                encoding: ObtainCertificate.Output(
                    liveDirectory: root + "/etc/sbs/ssl/live/shop.example.com", mode: "acme")),
            "start-stack": try JSONValue(encoding: StartStack.Output(services: ["app-db", "nginx"])),
            "pull-models": try JSONValue(encoding: PullModels.Output(models: resolved.ollamaModels)),
            "verify": try JSONValue(encoding: Nothing()),
            "ensure-restic": try JSONValue(encoding: EnsureRestic.Output(version: "restic 0.14.0")),
            "install-timers": try JSONValue(
                encoding: InstallTimers.Output(
                    unitDirectory: root + "/etc/systemd/system", units: ["sbs-renew.service"],
                    timers: ["sbs-renew.timer"], enabled: true)),
        ]
        var state = RunState()
        for (step, output) in outputs {
            state[step].status = .succeeded
            state[step].output = output
        }
        return state
    }

    static func session(root: String, assets: String? = nil) throws -> (InstallSession, CheckedAnswers) {
        let session = InstallSession(layout: Layout(root: root), sysroot: nil, assetsDirectory: assets)
        let answers = try AnswersFile.parse(
            """
            version: 1
            domain: shop.example.com
            admin_email: admin@example.com
            """, file: "a.yaml")
        return (session, session.readable(answers))
    }

    @Test(arguments: ["minimum", "recommended", "optimal"])
    func everyInputOfTheBundledGraphIsBuiltFromItsNeedsAlone(profile: String) throws {
        let root = Scratch.path("reads")
        // A kept secrets file: verify's input then carries a date (backups due since it was made).
        try FileManager.default.createDirectory(atPath: root + "/etc/sbs", withIntermediateDirectories: true)
        try "".write(toFile: root + "/etc/sbs/secrets.env", atomically: true, encoding: .utf8)
        // A restore under way: restore-database's input then carries it and the repository it reads.
        try PendingRestore(
            run: "20261205T031500Z", repository: "/var/backups/sbs/restic",
            databaseParts: [.init(name: "db/postgres.dump", snapshot: "0123abcd", bytes: 1)],
            requested: "20261206T010203Z", filesRestored: true
        ).save(in: Layout(root: root))
        let (session, checked) = try Self.session(root: root)
        let executor = try session.executor(checked, createKey: false)
        let table = try session.actions(checked, createKey: false)
        let state = try Self.representativeState(session, root: root, profile: profile)
        for step in executor.graph.steps {
            #expect(state[step.id].status == .succeeded, "give step '\(step.id)' a representative output in this test")
            do {
                let input = try table.input(of: step, needs: executor.neededOutputs(step, state: state))
                // What the executor writes, the action reads back before it runs.
                do { try table.decodeInput(of: step, input) } catch {
                    Issue.record("the Input of '\(step.id)' does not decode as its action reads it: \(error)")
                }
            } catch {
                Issue.record("the Input of '\(step.id)' cannot be built from the steps it needs: \(error)")
            }
        }
    }

    /// The check above can fail: with choose-profile taken out of verify's needs, building verify's Input is
    /// refused, naming the step, what it read and the file to fix.
    @Test func aReadBeyondTheNeedsIsRefusedWithTheStepAndItsFile() throws {
        let dir = Scratch.path("reads-assets")
        try FileManager.default.copyItem(atPath: repository + "/steps", toPath: dir + "/steps")
        try FileManager.default.copyItem(atPath: repository + "/assets", toPath: dir + "/assets")
        let file = dir + "/steps/verify.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(
            of: "needs: [start-stack, pull-models, choose-profile]", with: "needs: [start-stack, pull-models]"
        )
        .write(toFile: file, atomically: true, encoding: .utf8)
        let root = Scratch.path("reads")
        let (session, checked) = try Self.session(root: root, assets: dir)
        let executor = try session.executor(checked, createKey: false)
        let table = try session.actions(checked, createKey: false)
        let state = try Self.representativeState(session, root: root, profile: "recommended")
        let verify = try #require(executor.graph["verify"])
        #expect(verify.needs == ["start-stack", "pull-models"], "the edit above no longer matches steps/verify.yaml")
        #expect {
            try table.input(of: verify, needs: executor.neededOutputs(verify, state: state))
        } throws: { error in
            let text = String(describing: error)
            return text.contains(
                "Internal error: step 'verify' reads the output of 'choose-profile', which is not in its needs (its needs: [start-stack, pull-models])"
            )
                && text.contains("steps/verify.yaml:3")
        }
    }

    /// A `when:` reads a step's output too: naming a step reached only through another stops the graph loading.
    @Test func aWhenOnAStepReachedOnlyThroughAnotherStopsTheGraphFromLoading() throws {
        let dir = Scratch.path("reads-assets")
        try FileManager.default.copyItem(atPath: repository + "/steps", toPath: dir + "/steps")
        try FileManager.default.copyItem(atPath: repository + "/assets", toPath: dir + "/assets")
        let file = dir + "/steps/pull-models.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let edited = text.replacingOccurrences(of: "needs: [start-stack, choose-profile]", with: "needs: [start-stack]")
        #expect(edited != text, "the edit no longer matches steps/pull-models.yaml")
        try edited.write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            try InstallSession(layout: Layout(root: "/tmp/unused"), sysroot: nil, assetsDirectory: dir).graph()
        } throws: { error in
            String(describing: error).contains(
                "steps/pull-models.yaml:5: when names 'choose-profile.runsOllama', but step 'pull-models' needs 'choose-profile' only through 'start-stack'"
            )
        }
    }
}
