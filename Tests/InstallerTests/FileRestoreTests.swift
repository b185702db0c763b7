import Backups
import Foundation
import Processes
import SBSCore
import TestSupport
import Testing
import Wizard

@testable import Installer

/// `FileRestore` against a real restic repository: an installation's `/etc/sbs` and deploy folder backed up under
/// one root come back under another, what they replace is moved aside, and secrets named by `env:` become
/// `stored`.
@Suite("Files restored from a real restic repository")
struct FileRestoreTests {
    static let answers = """
        version: 1
        domain: shop.example.test
        admin_email: admin@example.test
        secrets:
          anthropic_api_key: env:SBS_TEST_UNSET_ON_THE_NEW_SERVER
        paths:
          deploy_dir: /srv/stack
        """

    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(5)))
    func theFilesLandUnderTheNewRootAndWhatTheyReplaceIsKeptAside() async throws {
        let dir = try Scratch.folder("file-restore")
        let old = Layout(root: dir + "/old")
        let new = Layout(root: dir + "/new")
        let fm = FileManager.default
        try fm.createDirectory(atPath: old.etcDir, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: old.resolve("/srv/stack"), withIntermediateDirectories: true)
        try Self.answers.write(toFile: old.answersFile, atomically: true, encoding: .utf8)
        try "ANTHROPIC_API_KEY=sk-ant-kept\nJWT_SECRET=jwt-of-the-old-server\n".write(
            toFile: old.secretsFile, atomically: true, encoding: .utf8)
        chmod(old.secretsFile, 0o600)
        try "services: {}\n".write(
            toFile: old.resolve("/srv/stack/docker-compose.yml"), atomically: true, encoding: .utf8)
        // The new root already holds an installation: its files must be kept aside, not lost.
        try fm.createDirectory(atPath: new.etcDir, withIntermediateDirectories: true)
        try "previous answers\n".write(toFile: new.answersFile, atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: new.resolve("/srv/stack"), withIntermediateDirectories: true)
        try "previous compose\n".write(
            toFile: new.resolve("/srv/stack/docker-compose.yml"), atomically: true, encoding: .utf8)

        try "correct horse battery staple\n".write(toFile: dir + "/password", atomically: true, encoding: .utf8)
        let restic = try Restic(
            location: dir + "/repository", passwordCommand: ["cat", dir + "/password"], cacheDirectory: dir + "/cache")
        let runner = SystemCommandRunner()
        let made = try await runner.run(restic.command(["init"]), timeout: .seconds(60))
        #expect(made.status == 0, "\(made.stderr)")
        let backedUp = try await runner.run(
            restic.command([
                "backup", "--json", "--host", "shop.example.test", "--", old.etcDir, old.resolve("/srv/stack"),
            ]),
            timeout: .seconds(60))
        #expect(backedUp.status == 0, "\(backedUp.stderr)")
        let listed = try await runner.run(restic.command(["snapshots", "--json"]), timeout: .seconds(60))
        let snapshot = try #require(try ResticSnapshot.list(listed.stdout).first?.id)

        let aside = try await FileRestore(
            layout: new, restic: restic, runner: runner, previousDeployDir: "/srv/stack", stamp: "20261206T010203Z",
            progress: { _ in }
        ).run(snapshot: snapshot)

        #expect(aside == new.stateDir + "/replaced-20261206T010203Z")
        #expect(
            try String(contentsOfFile: new.secretsFile, encoding: .utf8).contains("JWT_SECRET=jwt-of-the-old-server"))
        #expect(AtomicFile.mode(of: new.secretsFile) == 0o600, "restic keeps secrets.env's mode")
        #expect(
            try String(contentsOfFile: new.resolve("/srv/stack/docker-compose.yml"), encoding: .utf8)
                == "services: {}\n")
        #expect(
            try String(contentsOfFile: (aside ?? "") + "/etc-sbs/answers.yaml", encoding: .utf8) == "previous answers\n"
        )
        #expect(
            try String(contentsOfFile: (aside ?? "") + "/deploy/docker-compose.yml", encoding: .utf8)
                == "previous compose\n")
        #expect(!fm.fileExists(atPath: new.stateDir + "/restore-files"), "the staging folder is removed")
        // The restored answers read back as written, except the secret the new server reads from secrets.env.
        let restored = try AnswersFile.load(new.answersFile)
        #expect(restored.domain?.value == "shop.example.test")
        #expect(restored.deployDir == "/srv/stack")
        #expect(restored.secretSources[.anthropicAPIKey] == .stored)
        #expect(
            try AnswersFile.load(old.answersFile).secretSources[.anthropicAPIKey]
                == .environment("SBS_TEST_UNSET_ON_THE_NEW_SERVER"))
    }

    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(5)))
    func aSnapshotWithoutTheConfigurationIsRefusedBeforeAnythingMoves() async throws {
        let dir = try Scratch.folder("file-restore-other")
        let new = Layout(root: dir + "/new")
        try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: new.etcDir, withIntermediateDirectories: true)
        try "previous answers\n".write(toFile: new.answersFile, atomically: true, encoding: .utf8)
        try "pw\n".write(toFile: dir + "/password", atomically: true, encoding: .utf8)
        let restic = try Restic(
            location: dir + "/repository", passwordCommand: ["cat", dir + "/password"], cacheDirectory: dir + "/cache")
        let runner = SystemCommandRunner()
        _ = try await runner.run(restic.command(["init"]), timeout: .seconds(60))
        _ = try await runner.run(restic.command(["backup", "--", dir + "/elsewhere"]), timeout: .seconds(60))
        let listed = try await runner.run(restic.command(["snapshots", "--json"]), timeout: .seconds(60))
        let snapshot = try #require(try ResticSnapshot.list(listed.stdout).first?.id)
        await #expect(throws: UserError.self) {
            _ = try await FileRestore(
                layout: new, restic: restic, runner: runner, previousDeployDir: nil, stamp: "S", progress: { _ in }
            ).run(snapshot: snapshot)
        }
        #expect(try String(contentsOfFile: new.answersFile, encoding: .utf8) == "previous answers\n")
    }
}
