import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

/// `sbs migrate` as a user runs it, between two real PostgreSQL servers (scripts/test/pg-pair.sh; `--to` names the
/// target instead of the stack's app-db, which the end-to-end stack test migrates into).
@Suite(.postgresPair, .timeLimit(.minutes(10)))
struct MigrateCommandTests {
    @Test("refused before any connection: a password in the URL or in --password (never repeated), no installation")
    func refusals() async throws {
        let root = scratchDirectory("migrate-refusals")
        let inURL = try await sbs([
            "migrate", "--root", root, "--from", "postgres://u:Hunter2-secret@db.example.com/postgres",
        ])
        #expect(inURL.status == 1 && inURL.stderr.contains("holds a password"))
        #expect(!inURL.stderr.contains("Hunter2") && !inURL.stdout.contains("Hunter2"))
        let literal = try await sbs([
            "migrate", "--root", root, "--from", "postgres://u@127.0.0.1:1/postgres", "--password", "Hunter2-secret",
        ])
        #expect(literal.status == 1 && literal.stderr.contains("never the password itself"))
        #expect(!literal.stderr.contains("Hunter2"))
        let noInstall = try await sbs(["migrate", "--root", root, "--from", "postgres://u@127.0.0.1:1/postgres"])
        #expect(noInstall.status == 1 && noInstall.stderr.contains("There is no installation under \(root)"))
        let auth = try await sbs([
            "migrate", "--root", root, "--from", "postgres://u@127.0.0.1:1/postgres", "--schema", "auth",
        ])
        #expect(auth.status != 0 && auth.stderr.contains("one of Supabase's own schemas"))
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs/migration.json"))
    }

    @Test(
        "killed with SIGKILL in the middle of the million-row table, then run again: it finishes, nothing duplicated; the password is in no child's argv or environment"
    )
    func killedAndResumed() async throws {
        let pair = try await PostgresPair.start(rows: 1_000_000)
        do { try await Self.killAndResume(pair) } catch {
            await pair.stop()
            throw error
        }
        await pair.stop()
    }

    static func killAndResume(_ pair: PostgresPair) async throws {
        try await pair.makeTargetDatabase("killed")
        let root = scratchDirectory("migrate-killed")
        let password = try String(contentsOfFile: pair.passwordFile, encoding: .utf8)
        let environment = ["SBS_TEST_SOURCE_PASSWORD": password]
        let arguments = [
            "migrate", "--root", root, "--from", pair.sourceURL, "--password", "env:SBS_TEST_SOURCE_PASSWORD",
            "--to", pair.targetURL("killed"),
        ]
        let statePath = root + "/var/lib/sbs/migration.json"

        // Without a terminal and without --yes: the plan, then a refusal; nothing written.
        let unconfirmed = try await sbs(arguments, environment: environment)
        #expect(unconfirmed.status == 1 && unconfirmed.stderr.contains("there is no terminal; nothing was written"))
        #expect(unconfirmed.stderr.contains("public.events"))
        #expect(!FileManager.default.fileExists(atPath: statePath))
        // Without the password: the source asks for it, and there is no terminal to type it on.
        let noPassword = try await sbs([
            "migrate", "--root", root, "--from", pair.sourceURL, "--to", pair.targetURL("killed"), "--yes",
        ])
        #expect(noPassword.status == 1 && noPassword.stderr.contains("A password is needed and there is no terminal"))

        // posix_spawn, not Process: the psql processes it leaves behind when killed would hold the descriptor through
        // which Process learns of its exit. Started through python3, which closes every descriptor but the standard
        // ones first (the test process's pipes to other tests' children must not live on in those psql processes)
        // and sends its errors to a file.
        let log = root + "/migrate.err"
        let sbsPid = try #require(
            spawnQuietly(
                [
                    "python3", "-c",
                    "import os, sys; os.closerange(3, 65536); fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600); os.dup2(fd, 2); os.execv(sys.argv[2], sys.argv[2:])",
                    log, sbsBinary,
                ] + arguments + ["--yes"], environment: environment))
        // Killed once the copy of public.events is under way: sbs says it starts it, and its psql processes are
        // running a moment later. Watched, killed and its psql processes held on a thread of its own, so that a
        // task pool busy with other tests cannot let the moment pass.
        struct Kill: Sendable {
            var ended: Bool
            var children: [Int32]
            var environments: [(argv: String, environ: String)]
        }
        let outcome = await onOwnThread { () -> Kill in
            var started = false
            for _ in 0..<6000 where !started {
                usleep(10_000)
                var status: Int32 = 0
                if waitpid(sbsPid, &status, WNOHANG) == sbsPid {
                    return Kill(ended: true, children: [], environments: [])
                }
                started =
                    (try? String(contentsOfFile: log, encoding: .utf8))?.contains("copying public.events (") == true
            }
            usleep(300_000)
            let children = Self.children(of: sbsPid)
            // What the children carry: read before the kill.
            let environments = children.map { pid in
                (
                    (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "",
                    (try? String(contentsOfFile: "/proc/\(pid)/environ", encoding: .utf8)) ?? ""
                )
            }
            // The psql processes the killed run leaves go on copying on their own. They are held (SIGSTOP) until the
            // next run reaches public.events, so that both meet there: the new run must wait for the old
            // transaction (its table lock), then empty the table and copy it anew; rows of both would be duplicates.
            kill(sbsPid, SIGKILL)
            // Reaped before they are stopped: a process group left without its parent while a member is stopped
            // gets SIGHUP from the kernel, which would end them.
            _ = waitForExit(sbsPid)
            for pid in children { kill(pid, SIGSTOP) }
            return Kill(ended: false, children: children, environments: environments)
        }
        try #require(!outcome.ended, "sbs migrate ended before it was killed: \(read(log) ?? "")")
        let orphans = outcome.children
        // Neither the argv nor the environment of a child holds the password (PGPASSFILE names a file in memory).
        var checkedChildren = 0
        for (argv, environ) in outcome.environments where !environ.isEmpty {
            #expect(!argv.contains(password) && !environ.contains(password))
            #expect(environ.contains("PGPASSFILE=/proc/"))
            checkedChildren += 1
        }
        try #require(!orphans.isEmpty, "the killed run had no psql running")
        #expect(checkedChildren > 0)
        let state = try #require(read(statePath))
        #expect(state.contains(#""public.events" : {"#) && state.contains(#""status" : "copying""#))

        let rerun = Task { try await sbs(arguments + ["--yes", "--json"], environment: environment) }
        var met = false
        for _ in 0..<600 {
            try await Task.sleep(for: .milliseconds(100))
            let waiting = try await pair.psql(
                .target,
                "SELECT (SELECT count(*) FROM pg_locks WHERE relation = to_regclass('public.events') AND NOT granted) + (SELECT count(*) FROM pg_stat_progress_copy WHERE relid = to_regclass('public.events')) - 1",
                database: "killed")
            if (Int(waiting) ?? 0) > 0 {
                met = true
                break
            }
        }
        for pid in orphans { kill(pid, SIGCONT) }
        #expect(met, "the second run never reached public.events while the first one's copy was held")
        let again = try await rerun.value
        #expect(again.status == 0, "\(again.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        #expect(report?["passed"] as? Bool == true)
        let copied = (report?["tables"] as? [[String: Any]] ?? []).filter { $0["copiedNow"] as? Bool == true }
            .compactMap { $0["table"] as? String }
        #expect(copied.contains("public.events") && !copied.contains("auth.users"), "\(copied)")
        let rows = "SELECT count(*) || ':' || count(DISTINCT id) FROM public.events"
        let sourceRows = try await pair.psql(.source, rows)
        #expect(try await pair.psql(.target, rows, database: "killed") == sourceRows)
        #expect(!again.stdout.contains(password) && !again.stderr.contains(password))
    }

    /// The processes whose parent is `parent`.
    static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            // /proc/PID/stat: "pid (command) state ppid …"; the command may hold spaces and parentheses.
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }
}
