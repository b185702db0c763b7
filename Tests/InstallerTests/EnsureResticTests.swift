import Deploy
import Foundation
import Host
import Processes
import SBSCore
import StepGraph
import TestSupport
import Testing

@testable import Installer

/// ensure-restic's decisions against a scripted runner (what it would run on the host is the script; anything else
/// fails the test), on a fixture host that says which distribution it is.
@Suite struct EnsureResticDecisions {
    static let version = "restic 0.14.0 compiled with go1.19.8 on linux/amd64"
    static let apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]

    func host(_ osRelease: String) throws -> String {
        let root = try Scratch.folder("restic-host")
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try osRelease.write(toFile: root + "/etc/os-release", atomically: true, encoding: .utf8)
        return root
    }

    func action(_ runner: any CommandRunner) throws -> EnsureRestic {
        EnsureRestic(
            tools: InstallTools(
                commands: runner, secrets: AnswerSecretValues(),
                digester: try SecretDigester.load(Layout(root: try Scratch.folder("restic-keys")), create: false)))
    }

    func log() -> StepLog { StepLog(step: "ensure-restic", runLog: RunLog()) }

    @Test func anInstalledResticIsOnlyAsked() async throws {
        let runner = ScriptedRunner([["restic", "version"]: .ok(Self.version + "\n")])
        let result = try await action(runner).run(.init(sysroot: try host("ID=debian\n")), log: log())
        #expect(result.output.version == Self.version)
        #expect(runner.calls == [["restic", "version"]])
    }

    @Test func aMissingResticIsInstalledWithTheDistributionsPackage() async throws {
        let runner = ScriptedRunner([
            ["restic", "version"]: .exit(127, stderr: "restic: command not found"),
            Self.apt + ["update", "-q"]: .ok(),
            Self.apt + ["install", "-y", "-q", "restic"]: .ok().changing(
                ["restic", "version"], to: .ok(Self.version + "\n")),
        ])
        let root = try host("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
        let result = try await action(runner).run(.init(sysroot: root), log: log())
        #expect(result.output.version == Self.version)
        #expect(runner.unused.isEmpty)
    }

    @Test func aFailedInstallNamesTheCommandAndWhatItSaid() async throws {
        let runner = ScriptedRunner([
            ["restic", "version"]: .exit(127, stderr: "restic: command not found"),
            Self.apt + ["update", "-q"]: .ok(),
            Self.apt + ["install", "-y", "-q", "restic"]: .exit(
                100, stderr: "E: Could not get lock /var/lib/dpkg/lock-frontend"),
        ])
        await #expect {
            _ = try await action(runner).run(.init(sysroot: try host("ID=ubuntu\nID_LIKE=debian\n")), log: log())
        } throws: { error in
            let message = (error as? UserError)?.message ?? ""
            return message.contains("apt-get install -y -q restic") && message.contains("exit 100")
                && message.contains("Could not get lock")
        }
    }

    @Test func eachDistributionGetsItsPlanAndOthersAreRefused() throws {
        func plan(_ id: String, like: [String] = []) throws -> [String] {
            try ResticInstallPlan.steps(
                for: OSFacts(id: id, idLike: like, versionID: "1", versionCodename: nil, prettyName: id)
            ).map(\.description)
        }
        #expect(
            try plan("debian") == [
                "env DEBIAN_FRONTEND=noninteractive apt-get update -q",
                "env DEBIAN_FRONTEND=noninteractive apt-get install -y -q restic",
            ])
        #expect(
            try plan("linuxmint", like: ["ubuntu"]).last
                == "env DEBIAN_FRONTEND=noninteractive apt-get install -y -q restic")
        #expect(try plan("fedora") == ["dnf -y install restic"])
        #expect(
            try plan("rocky", like: ["rhel", "centos", "fedora"]) == [
                "dnf -y install epel-release", "dnf -y install restic",
            ])
        #expect(throws: UserError.self) { try plan("alpine") }
    }
}
