import Foundation
import TestSupport
import Testing

/// `sbs restore` on a new server from a repository that asks for a login, as a consultant types it: the REST
/// server's user and password file given as options, the password nowhere but in the 0600 file restic reads; a
/// wrong one said so; options that do not fit the repository refused before anything is asked.
@Suite struct RestoreRepositoryOptions {
    @Test(.requires("restic", "rclone", install: "apt-get install -y restic rclone"), .timeLimit(.minutes(3)))
    func aRESTRepositoryIsOpenedWithTheLoginGivenAndAWrongOneIsSaidSo() async throws {
        let dir = scratchDirectory("restore-rest")
        let port = try freeLoopbackPort()
        let password = "rest-Hunter2-\(UUID().uuidString.prefix(8))"
        guard
            let server = spawnQuietly(
                [
                    "rclone", "serve", "restic", "--addr", "127.0.0.1:\(port)", "--user", "sbs", "--pass", password,
                    dir + "/served",
                ], ownProcessGroup: true)
        else {
            Issue.record("rclone serve restic did not start")
            return
        }
        defer {
            kill(-server, SIGKILL)
            _ = waitForExit(server)
        }
        try "correct horse battery staple\n".write(toFile: dir + "/backup-password", atomically: true, encoding: .utf8)
        try "\(password)\n".write(toFile: dir + "/rest-password", atomically: true, encoding: .utf8)
        try "wrong\n".write(toFile: dir + "/wrong-password", atomically: true, encoding: .utf8)
        // An empty repository, made by hand.
        var made = -1 as Int32
        for _ in 0..<50 {
            guard
                let pid = spawnQuietly([
                    "restic", "--repo", "rest:http://sbs:\(password)@127.0.0.1:\(port)/shop/", "--password-file",
                    dir + "/backup-password", "--cache-dir", dir + "/cache", "init",
                ])
            else { break }
            made = waitForExit(pid)
            if made == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(made == 0, "restic init on the REST server")

        let repository = "rest:http://127.0.0.1:\(port)/shop/"
        let root = dir + "/root"
        let opened = try await sbs([
            "restore", "--root", root, "--repository", repository, "--rest-user", "sbs", "--rest-password-file",
            dir + "/rest-password", "--password-file", dir + "/backup-password",
        ])
        #expect(opened.status == 1)
        #expect(opened.stderr.contains("There is no backup in \(repository)."), "\(opened.stderr)")
        #expect(!(opened.stdout + opened.stderr).contains(password))
        // The password is in the one file restic reads (0600), and nowhere else under the root.
        let holders = try filesHolding(password, under: root)
        #expect(holders.count == 1 && holders[0].contains("/var/lib/sbs/restic-access/rest-"), "\(holders)")
        let mode = try FileManager.default.attributesOfItem(atPath: try #require(holders.first))[.posixPermissions]
        #expect(mode as? Int == 0o600)

        let wrong = try await sbs([
            "restore", "--root", dir + "/root-wrong", "--repository", repository, "--rest-user", "sbs",
            "--rest-password-file", dir + "/wrong-password", "--password-file", dir + "/backup-password",
        ])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("refused restic's credentials"), "\(wrong.stderr)")
    }

    @Test func optionsThatDoNotFitTheRepositoryAreRefusedBeforeAnyQuestion() async throws {
        let dir = scratchDirectory("restore-options")
        let cases: [([String], String)] = [
            (["--repository", "s3:https://s3.example.com/acme"], "needs --s3-access-key-id"),
            (
                ["--repository", "s3:https://s3.example.com/acme", "--rest-user", "sbs"],
                "--rest-* options apply to a rest:"
            ),
            (
                ["--repository", "rest:https://b.example.com/", "--s3-access-key-id", "A"],
                "--s3-* options apply to an s3:"
            ),
            (["--repository", "b2:acme:sbs"], "s3:https://s3.REGION.backblazeb2.com/BUCKET"),
            (["--s3-access-key-id", "A"], "go with --repository"),
            (["--repository", "rest:https://sbs:Hunter2@b.example.com/"], "rest:https://***@b.example.com/"),
        ]
        for (options, said) in cases {
            let root = dir + "/root-\(UUID().uuidString.prefix(6))"
            // No password file and no terminal: a question would fail with "no terminal"; these fail before it.
            let run = try await sbs(["restore", "--root", root] + options)
            #expect(run.status != 0, "\(options)")
            #expect(run.stderr.contains(said), "\(options): \(run.stderr)")
            #expect(!run.stderr.contains("Hunter2"))
            #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs/restic-access"), "\(options)")
        }
    }

    /// Regular files under `root` whose bytes hold `text` (links not followed).
    func filesHolding(_ text: String, under root: String) throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root)
        var found: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            let path = root + "/" + relative
            guard (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeRegular
            else { continue }
            if let data = FileManager.default.contents(atPath: path),
                data.range(of: Data(text.utf8)) != nil
            {
                found.append(path)
            }
        }
        return found
    }
}
