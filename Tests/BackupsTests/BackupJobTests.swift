import Deploy
import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Backups
@testable import Processes

/// `BackupJob` against a real restic repository. The database side is a stand-in `docker` (the real one, with a
/// real PostgreSQL, is scripts/test/stack-e2e.sh's): it answers `compose … exec -T app-db psql|pg_dumpall|pg_dump`
/// (the database state query with the file `state`, failing when there is none), logs each pg_dump to `dumped`,
/// and fails pg_dump of the database named in a flag file, after printing part of a dump.
@Suite("Backups into a real restic repository")
struct BackupJobTests {
    struct Fixture {
        let dir: String
        let restic: Restic
        let runner: SystemCommandRunner
        let project: ComposeProject

        /// - Parameter repository: the restic to back up with, given the fixture's folder (its password file is
        ///   `password` there); default: a repository in that folder.
        init(repository: ((String) throws -> Restic)? = nil) throws {
            dir = try Scratch.folder("backup")
            let bin = dir + "/bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            let docker = """
                #!/bin/sh
                while [ "$1" != exec ]; do shift; done
                shift 3
                case "$*" in *pg_control_system*) exec cat \(dir)/state ;; esac
                case "$1" in
                psql) printf 'app\\npostgres\\n' ;;
                pg_dumpall) printf -- '-- roles of the cluster\\nCREATE ROLE authenticator;\\n' ;;
                pg_dump)
                    echo "$6" >>\(dir)/dumped
                    printf 'PGDMP dump of %s\\n' "$6"
                    if [ "$(cat \(dir)/fail 2>/dev/null)" = "$6" ]; then echo "pg_dump: error: connection lost" >&2; exit 1; fi ;;
                *) echo "unexpected: $*" >&2; exit 2 ;;
                esac
                """
            // Written with O_CLOEXEC: a descriptor open for writing that leaks into a child another test spawns
            // meanwhile makes exec of the script fail with ETXTBSY while that child runs.
            try AtomicFile.write(docker, to: bin + "/docker", mode: 0o755)
            try "correct horse battery staple\n".write(toFile: dir + "/password", atomically: true, encoding: .utf8)
            for folder in ["etc", "deploy"] {
                try FileManager.default.createDirectory(atPath: dir + "/" + folder, withIntermediateDirectories: true)
                try "kept in \(folder)\n".write(toFile: dir + "/\(folder)/file", atomically: true, encoding: .utf8)
            }
            restic =
                try repository?(dir)
                ?? Restic(
                    location: dir + "/repository", passwordCommand: ["cat", dir + "/password"],
                    cacheDirectory: dir + "/cache")
            runner = SystemCommandRunner(searchPath: [bin] + SystemCommandRunner().searchPath)
            project = ComposeProject(name: "sbs-test", directory: dir + "/deploy")
        }

        func job(
            run: String, keep: BackupJob.Retention = .init(daily: 7, weekly: 4, monthly: 6),
            previous: BackupManifest? = nil
        ) -> BackupJob {
            var job = BackupJob(
                restic: restic, project: project, host: "shop.example.test", paths: [dir + "/etc", dir + "/deploy"],
                manifest: BackupManifest(
                    run: run, sbsVersion: "1.2.3", domain: "shop.example.test", images: ["app-db": "postgres:15"],
                    parts: []),
                keep: keep, runner: runner, progress: { _ in })
            job.previous = previous
            return job
        }

        /// What the state query prints: the cluster line, then each database's (`unlogged` tables in `app`).
        func setState(wal: String, unlogged: Int = 0) throws {
            let text = """
                7123456789012345678|\(wal)|app,postgres
                app|\(unlogged)|0123456789abcdef0123456789abcdef
                postgres|0|d41d8cd98f00b204e9800998ecf8427e

                """
            try text.write(toFile: dir + "/state", atomically: true, encoding: .utf8)
        }

        /// The databases pg_dump ran for since the last call.
        func dumped() -> [String] {
            let path = dir + "/dumped"
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: path)
            return text.split(separator: "\n").map(String.init)
        }

        func snapshots() async throws -> [ResticSnapshot] {
            let listed = try await restic(["snapshots", "--json"])
            #expect(listed.status == 0, "\(listed.stderr)")
            return try ResticSnapshot.list(listed.stdout)
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
    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(3)))
    func aBackupKilledHalfWayLeavesNothingThatStopsTheNext() async throws {
        let fixture = try Fixture()
        let first = try await fixture.job(run: "20261201T031500Z").run()
        // restic reading a FIFO it holds open itself: it takes its lock, then waits for input that never comes.
        let fifo = fixture.dir + "/stdin"
        #expect(mkfifo(fifo, 0o600) == 0)
        let killed = try #require(fixture.spawnWithStandardInput(fifo, fixture.restic.command(["backup", "--stdin"])))
        let locks = fixture.dir + "/repository/locks"
        // Up to a minute: restic derives its key first (scrypt), which takes seconds on a machine busy with the
        // whole test run (10 s were not always enough on a first run).
        for _ in 0..<1200 where ((try? FileManager.default.contentsOfDirectory(atPath: locks)) ?? []).isEmpty {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: locks)) ?? []).count == 1, "restic took no lock")
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

    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(5)))
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
                parts: parts,
                databaseState: Bool.random(using: &generator) ? nil : "71234|0/1A|app\napp|0|\"x\"",
                dumpsFrom: Bool.random(using: &generator) ? nil : "20261201T031500Z")
            #expect(try BackupManifest.decode(manifest.encoded()) == manifest)
        }
    }

    @Test func repositoriesSbsCannotUseAreRefusedWithTheReason() throws {
        let kinds: [(String, BackupRepository.Kind)] = [
            ("/var/backups/sbs/restic", .local), ("sftp:backup@nas.example.com:/srv/sbs", .sftp),
            ("sftp:nas:backups", .sftp),
            ("s3:s3.amazonaws.com/bucket", .s3), ("s3:https://s3.eu-central-003.backblazeb2.com/acme-backups/sbs", .s3),
            ("s3:http://127.0.0.1:9000/sbs-backups", .s3), ("s3:https://[2001:db8::1]:9000/bkt", .s3),
            ("rest:https://backup.example.com:8000/sbs/", .rest), ("rest:http://localhost:8000/", .rest),
            ("rest:https://h/", .rest),
        ]
        for (good, kind) in kinds {
            #expect(try BackupRepository(good).value == good)
            #expect(try BackupRepository(good).kind == kind, "\(good)")
        }
        for bad in [
            "", "relative/path", "/a b", "/a\"b", "/a'b", "/a\\b", "/x/../etc", "sftp:", "sftp:host", "sftp::/p",
            "sftp:-oProxyCommand=x:/p", "/a\nb",
            // S3 without a bucket, with the keys in the name, plain http to another machine, a bad port.
            "s3:", "s3:https://s3.amazonaws.com", "s3:https://s3.amazonaws.com/", "s3:https://s3.amazonaws.com/ab",
            "s3:https://KEY:SECRET@s3.amazonaws.com/bucket", "s3:http://s3.example.com/bucket",
            "s3:https://s3.example.com:0/bucket", "s3:https://s3.example.com:99999/bucket", "s3:https://:9000/bucket",
            "s3:https://s3.example.com:+80/bucket", "s3:https://s3.example.com:/bucket", "s3:https://[::1/bucket",
            "s3:https://[::1]x/bucket",
            "s3:https://s3.example.com/bucket/../x",
            // REST without a scheme, with a login in the URL, plain http to another machine.
            "rest:", "rest:backup.example.com/", "rest:https://sbs:pw@backup.example.com/",
            "rest:http://10.0.0.5:8000/",
            "rest:https:///", "b2:bucket:sbs", "azure:c:/", "gs:b:/", "rclone:remote:x", "swift:c:/",
        ] {
            #expect(throws: UserError.self, "\(bad.debugDescription)") { try BackupRepository(bad) }
        }
        let b2 = #expect(throws: UserError.self) { try BackupRepository("b2:bucket:sbs") }
        #expect(b2?.remedy?.contains("s3:https://s3.REGION.backblazeb2.com/BUCKET") == true)
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

    static func databaseParts(_ manifest: BackupManifest) -> [BackupManifest.Part] {
        manifest.parts.filter { $0.name.hasPrefix("db/") }
    }

    // The database unchanged since the last backup (the same state): the new backup keeps that backup's dumps, and
    // retention keeps them as long as a kept backup uses them, then forgets them.
    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(3)))
    func anUnchangedDatabaseKeepsTheDumpsOfThePreviousBackup() async throws {
        let fixture = try Fixture()
        let keepOne = BackupJob.Retention(daily: 1, weekly: 0, monthly: 0)
        try fixture.setState(wal: "0/1A2B3C4")
        let first = try await fixture.job(run: "20261201T031500Z", keep: keepOne).run()
        #expect(fixture.dumped() == ["app", "postgres"])
        #expect(first.databaseState?.hasPrefix("7123456789012345678|0/1A2B3C4|app,postgres\napp|0|") == true)

        let second = try await fixture.job(run: "20261202T031500Z", keep: keepOne, previous: first).run()
        #expect(fixture.dumped() == [], "pg_dump ran for an unchanged database")
        #expect(Self.databaseParts(second) == Self.databaseParts(first))
        #expect(second.parts.last?.name == "files" && second.parts.last?.snapshot != first.parts.last?.snapshot)
        #expect(second.databaseState == first.databaseState)
        #expect(first.dumpsFrom == nil && second.dumpsFrom == first.run)
        #expect(second.bytesRead == second.parts.last?.bytes)
        let manifests = try await fixture.snapshots().filter { $0.tags?.contains(BackupManifest.tag) == true }
        let uses = manifests.first { $0.tags?.contains("sbs-run:20261202T031500Z") == true }?.tags?.filter {
            $0.hasPrefix("sbs-uses:")
        }
        #expect(Set(uses ?? []) == Set(Self.databaseParts(first).map { "sbs-uses:" + $0.snapshot }))

        // The log moved on: dumped again.
        try fixture.setState(wal: "0/1A2B3D0")
        let third = try await fixture.job(run: "20261203T031500Z", keep: keepOne, previous: second).run()
        #expect(fixture.dumped() == ["app", "postgres"])
        #expect(
            Set(Self.databaseParts(third).map(\.snapshot)).isDisjoint(with: Self.databaseParts(first).map(\.snapshot)))
        // Retention keeps the two newest backups: the first one's manifest and files go, its dumps stay for the
        // second, which still restores.
        let catalog = BackupCatalog(restic: fixture.restic, runner: fixture.runner)
        #expect(try await catalog.entries().map(\.manifest) == [third, second])
        var ids = Set(try await fixture.snapshots().map { String($0.id.prefix(8)) })
        #expect(ids.isSuperset(of: Self.databaseParts(first).map(\.snapshot)))
        #expect(!ids.contains(try #require(first.parts.last).snapshot))
        let app = try #require(second.parts.first { $0.name == "db/app.dump" })
        #expect(try await fixture.restic(["dump", app.snapshot, "/db/app.dump"]).stdout == "PGDMP dump of app\n")

        // A fourth backup keeps the third's dumps; the second goes, and with it the dumps no kept backup uses.
        let fourth = try await fixture.job(run: "20261204T031500Z", keep: keepOne, previous: third).run()
        #expect(fixture.dumped() == [])
        #expect(Self.databaseParts(fourth) == Self.databaseParts(third))
        #expect(third.dumpsFrom == nil && fourth.dumpsFrom == third.run)
        #expect(try await catalog.entries().map(\.manifest) == [fourth, third])
        ids = Set(try await fixture.snapshots().map { String($0.id.prefix(8)) })
        #expect(ids.isDisjoint(with: Self.databaseParts(first).map(\.snapshot)))
        // The third backup's three dumps, files and manifest; the fourth's files and manifest.
        #expect(ids.count == 7, "\(ids.count) snapshots")
        let check = try await fixture.restic(["check"])
        #expect(check.status == 0, "\(check.stderr)")
    }

    // What the state cannot vouch for is dumped again: unlogged tables, a state that cannot be read, dumps of the
    // previous backup that are no longer in the repository.
    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(3)))
    func aDatabaseIsDumpedAgainWhenItsStateCannotVouchForTheOldDumps() async throws {
        let fixture = try Fixture()
        try fixture.setState(wal: "0/10")
        let first = try await fixture.job(run: "20261201T031500Z").run()
        #expect(fixture.dumped() == ["app", "postgres"])
        try fixture.setState(wal: "0/10", unlogged: 1)
        let unlogged = try await fixture.job(run: "20261202T031500Z", previous: first).run()
        #expect(fixture.dumped() == ["app", "postgres"], "an unlogged table's changes do not show in the log")
        #expect(unlogged.databaseState == nil)
        try FileManager.default.removeItem(atPath: fixture.dir + "/state")
        _ = try await fixture.job(run: "20261203T031500Z", previous: first).run()
        #expect(fixture.dumped() == ["app", "postgres"], "the state could not be read")
        try fixture.setState(wal: "0/10")
        let forgotten = try await fixture.restic(["forget"] + Self.databaseParts(first).map(\.snapshot))
        #expect(forgotten.status == 0, "\(forgotten.stderr)")
        let last = try await fixture.job(run: "20261204T031500Z", previous: first).run()
        #expect(fixture.dumped() == ["app", "postgres"], "the old dumps are gone from the repository")
        let app = try #require(last.parts.first { $0.name == "db/app.dump" })
        #expect(try await fixture.restic(["dump", app.snapshot, "/db/app.dump"]).stdout == "PGDMP dump of app\n")
    }

    // The parts of a run that never wrote its manifest (killed) are forgotten once they are two days old; younger
    // ones may be a backup still running on another server into the same repository, and stay.
    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(5)))
    func theLeftoversOfAKilledRunAreForgottenOnceOld() async throws {
        let fixture = try Fixture()
        let recent = RunStamp.make(Date().addingTimeInterval(-3600))
        _ = try await fixture.job(run: "20261201T031500Z").run()
        for run in ["20200101T000000Z", recent] {
            let made = try await fixture.runner.runPipeline(
                ["printf", "%s", "half a dump"],
                into: fixture.restic.command([
                    "backup", "--stdin", "--stdin-filename", "db/globals.sql", "--host", "shop.example.test", "--tag",
                    "sbs", "--tag", "sbs-run:\(run)",
                ]), timeout: .seconds(120))
            #expect(made.consumer.status == 0, "\(made.consumer.stderr)")
        }
        _ = try await fixture.job(run: "20261202T031500Z").run()
        let runs = Set(try await fixture.snapshots().compactMap(\.run))
        #expect(runs == ["20261201T031500Z", "20261202T031500Z", recent])
    }

    // sbs's own keep rules against restic's: manifests at generated times, `restic forget --dry-run` with the same
    // rules, the same backups kept.
    @Test(.requires("restic", install: "apt-get install -y restic"), .timeLimit(.minutes(3)))
    func retentionKeepsTheBackupsResticWouldKeep() async throws {
        let fixture = try Fixture()
        let runner = SystemCommandRunner(environment: ["TZ": "UTC"])
        #expect(try await runner.run(fixture.restic.command(["init"]), timeout: .seconds(60)).status == 0)
        var generator = SeededGenerator(seed: 18)
        var time = Date(timeIntervalSince1970: 1_785_568_500)  // 2026-08-01T07:15:00Z
        var runs: [String] = []
        for _ in 0..<24 {
            time += Double.random(in: 0.05...9, using: &generator) * 86400
            let run = RunStamp.make(time)
            runs.append(run)
            let dashed = time.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).dateTimeSeparator(.space))
            let made = try await runner.runPipeline(
                ["printf", "%s", run],
                into: fixture.restic.command([
                    "backup", "--stdin", "--stdin-filename", BackupManifest.fileName, "--host", "h", "--time",
                    String(dashed.prefix(19)), "--tag", "sbs", "--tag", BackupManifest.tag, "--tag", "sbs-run:\(run)",
                ]), timeout: .seconds(120))
            #expect(made.consumer.status == 0, "\(made.consumer.stderr)")
        }
        struct Group: Decodable {
            struct Snapshot: Decodable { var tags: [String] }
            var keep: [Snapshot]
        }
        for (daily, weekly, monthly) in [(1, 0, 0), (3, 2, 2), (7, 4, 6), (0, 5, 0), (0, 0, 3), (2, 8, 1), (0, 0, 0)] {
            let keep = BackupJob.Retention(daily: daily, weekly: weekly, monthly: monthly)
            let dry = try await runner.run(
                fixture.restic.command([
                    "forget", "--dry-run", "--json", "--tag", BackupManifest.tag, "--host", "h", "--group-by", "host",
                    "--keep-last", "2", "--keep-daily", "\(daily)", "--keep-weekly", "\(weekly)", "--keep-monthly",
                    "\(monthly)",
                ]), timeout: .seconds(120))
            #expect(dry.status == 0, "\(dry.stderr)")
            let groups = try JSONDecoder().decode([Group].self, from: Data(dry.stdout.utf8))
            let resticKept = Set(
                groups.flatMap(\.keep).flatMap(\.tags).filter { $0.hasPrefix("sbs-run:") }.map {
                    String($0.dropFirst("sbs-run:".count))
                })
            #expect(keep.keptRuns(runs) == resticKept, "daily \(daily) weekly \(weekly) monthly \(monthly)")
        }
    }

    @Test func theStateIsOnlyTakenWhenEveryLineIsThere() {
        let good =
            "7123|0/1A|app,postgres\napp|0|0123456789abcdef0123456789abcdef\npostgres|0|d41d8cd98f00b204e9800998ecf8427e\n"
        #expect(DatabaseState.parse(good, databases: ["app", "postgres"])?.text == good.trimmed)
        for bad in [
            "", "7123|0/1A|app,postgres\n", good.replacingOccurrences(of: "app|0|", with: "app|2|"),
            good.replacingOccurrences(of: "app,postgres", with: "app,other,postgres"),
            good.replacingOccurrences(of: "|0/1A|", with: "||"), good + "extra|0|0123456789abcdef0123456789abcdef\n",
            good.replacingOccurrences(of: "d41d8cd98f00b204e9800998ecf8427e", with: "d41d"),
        ] {
            #expect(DatabaseState.parse(bad, databases: ["app", "postgres"]) == nil, "\(bad.debugDescription)")
        }
        #expect(DatabaseState.parse(good, databases: ["postgres", "app"]) == nil)
    }

    @Test func runIdsReadAsDaysWeeksAndTimes() {
        #expect(BackupJob.Retention.isoWeek("20261231T235959Z") == "2026-W53")
        #expect(BackupJob.Retention.isoWeek("20270101T000000Z") == "2026-W53")
        #expect(BackupJob.Retention.isoWeek("20270104T031500Z") == "2027-W01")
        #expect(RunStamp.date("20261205T031500Z") == Date(timeIntervalSince1970: 1_796_440_500))
        // What is made reads back as the same second.
        for seconds in stride(from: 0.0, to: 4e9, by: 97_654_321.0) {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(RunStamp.date(RunStamp.make(date)) == date, "\(date)")
        }
        for bad in [
            "", "20261305T031500Z", "20261205 031500Z", "2026120T031500Z", "20261205T031500", "abcdefghTijklmnZ",
            "20261205T031500Zx", "+2026120T031500Z", "2026-205T031500Z", "20260230T031500Z", "20261205T246000Z",
        ] {
            #expect(RunStamp.date(bad) == nil, "\(bad)")
        }
    }
}
