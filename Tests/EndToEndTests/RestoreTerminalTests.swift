import Foundation
import TestSupport
import Testing

/// `sbs restore` asking on a real terminal (tmux): the repository's password typed hidden, and the domain typed to
/// replace an installation. The repository is a real restic one holding a backup's manifest.
@Suite(.serialized) struct RestoreInATerminal {
    /// A restic repository (its password in `DIR/password`) with the manifest of one backup of shop.example.test.
    func repository(_ dir: String) async throws -> String {
        let repository = dir + "/repository"
        try "the-right-password-0815\n".write(toFile: dir + "/password", atomically: true, encoding: .utf8)
        let restic = [
            "restic", "--repo", repository, "--password-file", dir + "/password", "--cache-dir", dir + "/cache",
        ]
        #expect(try await run(restic + ["init"]).status == 0)
        let manifest = """
            {"run":"20261201T031500Z","sbsVersion":"0.1.0","domain":"shop.example.test","images":{},\
            "parts":[{"name":"files","snapshot":"0123abcd","bytes":1}]}
            """
        try manifest.write(toFile: dir + "/manifest.json", atomically: true, encoding: .utf8)
        let made = try await run(
            ["sh", "-c", "\"$@\" <\"\(dir)/manifest.json\"", "sh"] + restic + [
                "backup", "--stdin", "--stdin-filename", "sbs-manifest.json", "--host", "shop.example.test", "--tag",
                "sbs", "--tag", "sbs-manifest", "--tag", "sbs-run:20261201T031500Z",
            ])
        #expect(made.status == 0, "\(made.stderr)")
        return repository
    }

    func run(_ argv: [String]) async throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    // On a new server without --password-file: the password is asked, not echoed, kept only while the restore
    // runs (a wrong one is restic's "wrong password", said as such).
    @Test func thePasswordIsAskedHiddenAndAWrongOneIsSaidSo() async throws {
        try Integration.require(tools: "tmux", "restic", install: "scripts/ci-setup.sh installs them")
        let dir = scratchDirectory("restore-password")
        let repository = try await repository(dir)
        let root = dir + "/root"
        let typed = "not-the-password-4711"
        let session = try TmuxSession(
            command: "\(sbsBinary) restore --root \(root) --repository \(repository); echo EXIT=$?; sleep 60")
        await session.expect("The backup repository's password (BACKUP_PASSWORD):")
        try session.type(typed)
        try session.keys("Enter")
        await session.expect("EXIT=1", seconds: 60)
        let screen = session.screen
        #expect(
            screen.replacingOccurrences(of: "\n", with: "").contains(
                "The password does not open the repository \(repository) (restic: wrong password or no key found); nothing was changed."
            ), "\(screen)")
        #expect(!screen.contains(typed), "the typed password was shown:\n\(screen)")
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs/restore-password"))
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs/restore.json"))
    }

    // Over an installation, --force without --confirm asks for the domain: anything else typed changes nothing.
    @Test func replacingAnInstallationNeedsItsDomainTyped() async throws {
        try Integration.require(tools: "tmux", "restic", install: "scripts/ci-setup.sh installs them")
        let dir = scratchDirectory("restore-confirm")
        let repository = try await repository(dir)
        let root = dir + "/root"
        try writeAnswers(dir + "/site.yaml")
        let install = try await sbs(
            [
                "install", "--answers", dir + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", try fixtureHost("vm-16g-no-gpu"),
            ], environment: testEnvironment)
        #expect(install.status == 0, "\(install.stderr)")
        let answers = read(root + "/etc/sbs/answers.yaml")
        let session = try TmuxSession(
            command:
                "\(sbsBinary) restore --root \(root) --repository \(repository) --password-file \(dir)/password --force; echo EXIT=$?; sleep 60"
        )
        await session.expect("The restore replaces the database and configuration of shop.example.test")
        await session.expect("Type the domain to go on:")
        try session.type("shop.example.tset")
        try session.keys("Enter")
        await session.expect("EXIT=1", seconds: 30)
        #expect(session.screen.contains("The domain was not typed as it is; nothing was changed."), "\(session.screen)")
        #expect(read(root + "/etc/sbs/answers.yaml") == answers && answers != nil)
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs/restore.json"))
    }
}
