import Deploy
import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Backups
@testable import Processes

/// `BackupJob` against a real restic repository. The database side is a stand-in `docker` (the real one, with a
/// real PostgreSQL, is scripts/test/stack-e2e.sh's): it answers `compose … exec -T app-db psql|pg_dumpall|pg_dump`
/// and fails pg_dump of the database named in a flag file, after printing part of a dump.
@Suite("Backups into a real restic repository")
struct BackupJobTests {
    struct Fixture {
        let dir: String
        let restic: Restic
        let runner: SystemCommandRunner
        let project: ComposeProject

        init() throws {
            dir = try Scratch.folder("backup")
            let bin = dir + "/bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            let docker = """
                #!/bin/sh
                while [ "$1" != exec ]; do shift; done
                shift 3
                case "$1" in
                psql) printf 'app\\npostgres\\n' ;;
                pg_dumpall) printf -- '-- roles of the cluster\\nCREATE ROLE authenticator;\\n' ;;
                pg_dump)
                    printf 'PGDMP dump of %s\\n' "$6"
                    if [ "$(cat \(dir)/fail 2>/dev/null)" = "$6" ]; then echo "pg_dump: error: connection lost" >&2; exit 1; fi ;;
                *) echo "unexpected: $*" >&2; exit 2 ;;
                esac
                """
            try docker.write(toFile: bin + "/docker", atomically: true, encoding: .utf8)
            chmod(bin + "/docker", 0o755)
            try "correct horse battery staple\n".write(toFile: dir + "/password", atomically: true, encoding: .utf8)
            for folder in ["etc", "deploy"] {
                try FileManager.default.createDirectory(atPath: dir + "/" + folder, withIntermediateDirectories: true)
                try "kept in \(folder)\n".write(toFile: dir + "/\(folder)/file", atomically: true, encoding: .utf8)
            }
            restic = try Restic(
                location: dir + "/repository", passwordCommand: ["cat", dir + "/password"],
                cacheDirectory: dir + "/cache")
            runner = SystemCommandRunner(searchPath: [bin] + SystemCommandRunner().searchPath)
            project = ComposeProject(name: "sbs-test", directory: dir + "/deploy")
        }

        func job(run: String, keep: BackupJob.Retention = .init(daily: 7, weekly: 4, monthly: 6)) -> BackupJob {
            BackupJob(
                restic: restic, project: project, host: "shop.example.test", paths: [dir + "/etc", dir + "/deploy"],
                manifest: BackupManifest(
                    run: run, sbsVersion: "1.2.3", domain: "shop.example.test", images: ["app-db": "postgres:15"],
                    parts: []),
                keep: keep, runner: runner, progress: { _ in })
        }

        /// Starts `argv` (restic from the search path) with `path` opened read-write as its standard input.
        func spawnWithStandardInput(_ path: String, _ argv: [String]) -> pid_t? {
            var pid: pid_t = 0
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, path, O_RDWR, 0)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            var cArgs = argv.map { strdup($0) } + [nil]
            let pathVariable = "PATH=" + runner.searchPath.joined(separator: ":")
            var cEnv: [UnsafeMutablePointer<CChar>?] = [strdup(pathVariable), nil]
            defer { for pointer in cArgs + cEnv { free(pointer) } }
            guard posix_spawnp(&pid, argv[0], &actions, nil, &cArgs, &cEnv) == 0 else { return nil }
            return pid
        }

        func restic(_ arguments: [String]) async throws -> CommandResult {
            try await runner.run(restic.command(arguments), timeout: .seconds(120))
        }

        func snapshotCount() async throws -> Int {
            let listed = try await restic(["snapshots", "--json"])
            #expect(listed.status == 0, "\(listed.stderr)")
            return try ResticSnapshot.list(listed.stdout).count
        }
    }

    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(3)))
    func aBackupHoldsEveryPartAndAFailedOneLeavesTheRepositoryAsItWas() async throws {
        let fixture = try Fixture()
        // The first backup creates the repository.
        let first = try await fixture.job(run: "20261201T031500Z").run()
        #expect(first.parts.map(\.name) == ["db/globals.sql", "db/app.dump", "db/postgres.dump", "files"])
        let catalog = BackupCatalog(restic: fixture.restic, runner: fixture.runner)
        #expect(try await catalog.entries().map(\.manifest) == [first])
        // What went in comes out: the dump as pg_dump wrote it, the files.
        let app = try #require(first.parts.first { $0.name == "db/app.dump" })
        let dumped = try await fixture.restic(["dump", app.snapshot, "/db/app.dump"])
        #expect(dumped.stdout == "PGDMP dump of app\n")
        let files = try #require(first.parts.first { $0.name == "files" })
        let file = try await fixture.restic(["dump", files.snapshot, fixture.dir + "/etc/file"])
        #expect(file.stdout == "kept in etc\n")

        // pg_dump of one database fails half-way: the run fails naming it, and the snapshots it had made are
        // forgotten again (the repository lists exactly what it did before); the earlier backup is untouched.
        let before = try await fixture.snapshotCount()
        try "app".write(toFile: fixture.dir + "/fail", atomically: true, encoding: .utf8)
        await #expect {
            _ = try await fixture.job(run: "20261202T031500Z").run()
        } throws: { error in
            let message = (error as? UserError)?.message ?? ""
            return message.contains("db/app.dump") && message.contains("exited 1")
                && message.contains("connection lost")
        }
        #expect(try await fixture.snapshotCount() == before)
        #expect(try await catalog.entries().map(\.manifest) == [first])

        // Working again: a second backup. The two newest runs are always kept; beyond them, with one daily
        // snapshot kept, retention removes the first run (all three were made today).
        try FileManager.default.removeItem(atPath: fixture.dir + "/fail")
        let second = try await fixture.job(run: "20261203T031500Z").run()
        #expect(try await catalog.entries().map(\.manifest) == [second, first])
        let third = try await fixture.job(run: "20261204T031500Z", keep: .init(daily: 1, weekly: 0, monthly: 0)).run()
        #expect(try await catalog.entries().map(\.manifest) == [third, second])
    }

    // A restic killed in the middle of a backup (kill -9, a power cut) leaves its lock in the repository; the next
    // backup removes it as stale instead of failing at the prune, and the repository checks clean.
    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(2)))
    func aBackupKilledHalfWayLeavesNothingThatStopsTheNext() async throws {
        let fixture = try Fixture()
        let first = try await fixture.job(run: "20261201T031500Z").run()
        // restic reading a FIFO it holds open itself: it takes its lock, then waits for input that never comes.
        let fifo = fixture.dir + "/stdin"
        #expect(mkfifo(fifo, 0o600) == 0)
        let killed = try #require(fixture.spawnWithStandardInput(fifo, fixture.restic.command(["backup", "--stdin"])))
        let locks = fixture.dir + "/repository/locks"
        for _ in 0..<200 where ((try? FileManager.default.contentsOfDirectory(atPath: locks)) ?? []).isEmpty {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: locks).count == 1, "restic took no lock")
        kill(killed, SIGKILL)
        // Reaped here: a killed process nobody reaps still counts as running, and its lock as not stale.
        #expect(waitForExit(killed) == 128 + SIGKILL)
        let second = try await fixture.job(run: "20261202T031500Z").run()
        #expect(
            try await BackupCatalog(restic: fixture.restic, runner: fixture.runner).entries().map(\.manifest) == [
                second, first,
            ])
        let check = try await fixture.restic(["check"])
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(2)))
    func aWrongPasswordIsSaidSo() async throws {
        let fixture = try Fixture()
        _ = try await fixture.job(run: "20261201T031500Z").run()
        try "another password\n".write(toFile: fixture.dir + "/password", atomically: true, encoding: .utf8)
        await #expect {
            _ = try await fixture.job(run: "20261202T031500Z").run()
        } throws: { error in
            ((error as? UserError)?.message ?? "").contains("could not open the repository with BACKUP_PASSWORD")
        }
    }

    @Test func theManifestReadsBackWhatWasWritten() throws {
        var generator = SeededGenerator(seed: 16)
        for _ in 0..<50 {
            let parts = (0..<Int.random(in: 0...5, using: &generator)).map { index in
                BackupManifest.Part(
                    name: "db/\(index)-\(Int.random(in: 0...999, using: &generator)).dump",
                    snapshot: String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 16),
                    bytes: Int.random(in: 0...(1 << 40), using: &generator))
            }
            let manifest = BackupManifest(
                run: "2026120\(Int.random(in: 1...9, using: &generator))T031500Z", sbsVersion: "0.1.0-dev",
                domain: "shop.example.test", images: ["app-db": "supabase/postgres:15.1.0.117", "x": "a\"b\\c"],
                parts: parts)
            #expect(try BackupManifest.decode(manifest.encoded()) == manifest)
        }
    }

    @Test func repositoriesSbsCannotUseAreRefusedWithTheReason() throws {
        for good in ["/var/backups/sbs/restic", "sftp:backup@nas.example.com:/srv/sbs", "sftp:nas:backups"] {
            #expect(try BackupRepository(good).value == good)
        }
        for bad in [
            "", "relative/path", "/a b", "/a\"b", "/a'b", "/a\\b", "/x/../etc", "sftp:", "sftp:host", "sftp::/p",
            "sftp:-oProxyCommand=x:/p", "s3:s3.amazonaws.com/bucket", "rest:https://h/", "/a\nb",
        ] {
            #expect(throws: UserError.self, "\(bad.debugDescription)") { try BackupRepository(bad) }
        }
        #expect(BackupRepository.onThisServer.location(in: Layout(root: "/tmp/r")) == "/tmp/r/var/backups/sbs/restic")
        #expect(try BackupRepository("sftp:h:/p").location(in: Layout(root: "/tmp/r")) == "sftp:h:/p")
    }

    /// The ssh that restic runs for an sftp repository: the answers' port, key and known hosts, questions refused.
    @Test func anSFTPRepositoryIsReachedWithTheGivenKeyAndKnownHosts() throws {
        let access = try SFTPAccess(
            port: try Port(2222), identityFile: "/root/.ssh/sbs-backup", knownHosts: "/etc/sbs/known_hosts")
        #expect(
            access.resticOption(for: try BackupRepository("sftp:backup@nas.example.com:/srv/sbs"))
                == "sftp.command=ssh -p 2222 -i /root/.ssh/sbs-backup -o UserKnownHostsFile=/etc/sbs/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes backup@nas.example.com -s sftp"
        )
        #expect(access.resticOption(for: try BackupRepository("/srv/restic")) == nil)
        for (identity, known) in [("relative/key", "/k"), ("/k", "/a b"), ("/k\"x", "/k"), ("/k", "/k;rm")] {
            #expect(throws: UserError.self, "\(identity) \(known)") {
                try SFTPAccess(identityFile: identity, knownHosts: known)
            }
        }
    }
}
