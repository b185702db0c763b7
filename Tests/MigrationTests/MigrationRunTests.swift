import Foundation
import Processes
import SBSCore
import Synchronization
import TestSupport
import Testing

@testable import Migration

/// Migrations between two real PostgreSQL servers (scripts/test/pg-pair.sh): the source seeded as a hosted Supabase
/// project (users with bcrypt hashes, the product's tables with foreign keys, a trigger, sequences, JSONB, bytea,
/// a table without a primary key and one of a million rows), the target as the server's own database.
@Suite(.postgresPair, .timeLimit(.minutes(10)))
struct MigrationRunTests {
    /// A migration into `database` on the pair's target, with the source's password in an in-memory file.
    struct Setup {
        let migration: Migration
        let passwordFile: PasswordFile
        let statePath: String
        let messages: Messages
    }

    final class Messages: Sendable {
        let lines = Mutex<[String]>([])
    }

    static func setup(_ pair: PostgresPair, database: String, options: MigrationOptions = MigrationOptions()) throws
        -> Setup
    {
        let url = try SourceURL(pair.sourceURL)
        let password = try String(contentsOfFile: pair.passwordFile, encoding: .utf8)
        let file = try PasswordFile(password: password, for: url)
        let statePath = try Scratch.folder("migrate") + "/var/lib/sbs/migration.json"
        let target = Database(
            access: .connection(try SourceURL(pair.targetURL(database)).connectionString), name: "the target")
        let messages = Messages()
        var migration = Migration(
            sourceURL: url, target: target, options: options, statePath: statePath,
            runner: SystemCommandRunner(environment: ["PGPASSFILE": file.path ?? ""]),
            progress: { message in messages.lines.withLock { $0.append(message) } })
        // Often enough to be seen during the copy of a million rows (a few seconds).
        migration.progressInterval = .milliseconds(200)
        return Setup(migration: migration, passwordFile: file, statePath: statePath, messages: messages)
    }

    static func withPair(rows: Int, _ body: (PostgresPair) async throws -> Void) async throws {
        let pair = try await PostgresPair.start(rows: rows)
        do { try await body(pair) } catch {
            await pair.stop()
            throw error
        }
        await pair.stop()
    }

    /// Every row of a table in full (all columns, not only the key the migration checks), as an order-free sum.
    static func wholeRows(_ pair: PostgresPair, _ side: PostgresPair.Side, _ table: String, database: String)
        async throws -> String
    {
        try await pair.psql(
            side,
            "SET TimeZone = 'UTC'; SELECT count(*) || ':' || coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0) FROM \(table) t",
            database: database)
    }

    @Test(
        "a full migration: schema, users with their passwords, a million rows, sequences; verified, and a second run copies nothing"
    )
    func fullMigration() async throws {
        try await Self.withPair(rows: 1_000_000) { pair in
            try await pair.makeTargetDatabase("server")
            let setup = try Self.setup(pair, database: "server")

            // The plan, writing nothing.
            let preflight = try await setup.migration.preflight()
            #expect(preflight.plan.applySchema)
            let planned = preflight.plan.tables.map(\.table.description)
            #expect(
                Set(planned) == [
                    "auth.users", "auth.identities", "public.agent_conversations", "public.tasks",
                    "public.deliverables", "public.events", "public.audit_log",
                ])
            // Foreign keys respected by the order: users before identities and conversations, tasks before events.
            for (before, after) in [
                ("auth.users", "auth.identities"), ("auth.users", "public.agent_conversations"),
                ("public.agent_conversations", "public.tasks"), ("public.tasks", "public.deliverables"),
                ("public.tasks", "public.events"),
            ] {
                #expect(planned.firstIndex(of: before)! < planned.firstIndex(of: after)!, "\(before) before \(after)")
            }
            let events = try #require(preflight.plan.tables.first { $0.table.description == "public.events" })
            #expect(events.rows == Int(try await pair.psql(.source, "SELECT count(*) FROM public.events")))
            #expect(events.rows > 900_000)
            #expect(preflight.plan.tables.first { $0.table.name == "users" }?.notCarried == ["is_anonymous"])
            #expect(!FileManager.default.fileExists(atPath: setup.statePath))
            #expect(
                try await pair.psql(.target, "SELECT to_regclass('public.tasks') IS NULL", database: "server") == "t")

            let report = try await setup.migration.run(preflight)
            #expect(report.passed)
            #expect(report.tables.count == 7 && report.tables.allSatisfy(\.copiedNow))
            #expect(report.tables.first { $0.table == "public.events" }?.serverRows == events.rows)
            // Each table's end is told (the progress during a copy: `progressOfACopyUnderWay`).
            let progress = setup.messages.lines.withLock { $0 }
            #expect(
                progress.contains { $0.hasPrefix("public.events: \(TableCopy.count(events.rows)) rows copied in ") },
                "\(progress)")

            // Every column of every row, not only the keys the migration compared.
            for table in [
                "public.agent_conversations", "public.tasks", "public.deliverables", "public.events",
                "public.audit_log", "auth.identities",
            ] {
                let source = try await Self.wholeRows(pair, .source, table, database: "postgres")
                let server = try await Self.wholeRows(pair, .target, table, database: "server")
                #expect(source == server, "\(table): \(source) in the source, \(server) on the server")
            }
            // The users log in with their passwords (bcrypt checked by pgcrypto on the server).
            #expect(
                try await pair.psql(
                    .target,
                    "SELECT count(*) FROM auth.users WHERE encrypted_password = extensions.crypt('password-' || substr(email, 5, 1), encrypted_password)",
                    database: "server") == "5")
            #expect(
                try await pair.psql(
                    .target,
                    "SELECT count(*) FROM auth.users WHERE encrypted_password = extensions.crypt('password-9', encrypted_password)",
                    database: "server") == "0")
            // Generated columns computed again on the server.
            #expect(
                try await pair.psql(
                    .target, "SELECT count(*) FROM auth.identities WHERE email IS NOT NULL", database: "server")
                    == "5")
            // Sessions are not carried (their tokens were signed by the hosted project).
            #expect(
                try await pair.psql(.target, "SELECT to_regclass('auth.sessions') IS NULL", database: "server") == "t")
            // Sequences continue where the source's are.
            let sequences =
                "SELECT string_agg(sequencename || '=' || coalesce(last_value::text, '-'), ',' ORDER BY sequencename) FROM pg_sequences WHERE schemaname = 'public'"
            let sourceSequences = try await pair.psql(.source, sequences)
            #expect(!sourceSequences.isEmpty)
            #expect(try await pair.psql(.target, sequences, database: "server") == sourceSequences)

            // Again: nothing is copied, everything is checked again.
            let again = try await setup.migration.preflight()
            #expect(!again.plan.applySchema)
            let second = try await setup.migration.run(again)
            #expect(second.passed && second.tables.count == 7 && second.tables.allSatisfy { !$0.copiedNow })
            let state = try #require(try MigrationState.load(from: setup.statePath))
            #expect(state.finished && state.tables.values.allSatisfy { $0.status == .verified })

            // A key changed on the server, the count unchanged: the checksum tells, the table is copied anew next.
            try await pair.psql(
                .target,
                "SET session_replication_role = replica; UPDATE public.tasks SET id = id + 1000000 WHERE id = (SELECT min(id) FROM public.tasks)",
                database: "server")
            let changed = try await setup.migration.run(try await setup.migration.preflight())
            #expect(!changed.passed)
            #expect(changed.tables.filter { !$0.equal }.map(\.table) == ["public.tasks"])
            #expect(changed.tables.first { $0.table == "public.tasks" }.map { $0.sourceRows == $0.serverRows } == true)
            let repaired = try await setup.migration.run(try await setup.migration.preflight())
            #expect(repaired.passed && repaired.tables.filter(\.copiedNow).map(\.table) == ["public.tasks"])
        }
    }

    /// A copy held in the middle (its rows sent, its input left open) is seen by the progress reader, whatever the
    /// machine's load: how fast a real copy runs decides whether a reading falls within it, so the full migration
    /// cannot be the test of this.
    @Test("the progress of a copy under way: rows of the total, rows and bytes per second, from the server")
    func progressOfACopyUnderWay() async throws {
        try await Self.withPair(rows: 1000) { pair in
            try await pair.psql(.target, "CREATE TABLE public.probe (id int PRIMARY KEY, payload text)")
            let session = "sbs-migrate progress-probe"
            let copy = Process()
            copy.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            copy.arguments = [
                "psql", "--no-psqlrc", "-h", pair.socketDirectory, "-p", String(pair.targetPort), "-U", "postgres",
                "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", "COPY public.probe FROM STDIN",
            ]
            copy.environment = ProcessInfo.processInfo.environment.merging(["PGAPPNAME": session]) { $1 }
            let input = Pipe()
            copy.standardInput = input
            try copy.run()
            // 5,000 rows of about 60 bytes: libpq sends them in 8 KB messages as psql reads them, and the last part
            // may wait in its buffer, so the server counts most of them, and not more than were sent.
            let rows = (1...5000).map { "\($0)\t" + String(repeating: "x", count: 56) + "\n" }.joined()
            input.fileHandleForWriting.write(Data(rows.utf8))

            let target = Database(
                access: .connection(try SourceURL(pair.targetURL("postgres")).connectionString), name: "the target")
            let messages = Messages()
            let reader = TableCopy(
                plan: TablePlan(
                    table: TableName(schema: "public", name: "probe"), columns: ["id", "payload"], key: ["id"],
                    rows: 10_000, bytes: 0, notCarried: []),
                source: target, target: target, runner: SystemCommandRunner(),
                progress: { line in messages.lines.withLock { $0.append(line) } }, interval: .milliseconds(100),
                session: session)
            let watching = Task { await reader.watch(since: .now) }
            let deadline = ContinuousClock.now + .seconds(120)
            while messages.lines.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            watching.cancel()
            await watching.value
            input.fileHandleForWriting.closeFile()
            copy.waitUntilExit()
            #expect(copy.terminationStatus == 0)
            #expect(try await pair.psql(.target, "SELECT count(*) FROM public.probe") == "5000")

            // "public.probe: 4,096 of 10,000 rows (40%), 3,120 rows/s, 0.2 MB/s"
            let line = try #require(messages.lines.withLock { $0.first }, "no progress within 120 s")
            let pattern = /public\.probe: ([0-9,]+) of 10,000 rows \(([0-9]+)%\), [0-9,]+ rows\/s, [0-9.]+ MB\/s/
            let match = try #require(line.wholeMatch(of: pattern), "\(line)")
            let counted = try #require(Int(match.1.replacing(",", with: "")))
            #expect(counted > 0 && counted <= 5000, "\(line)")
            #expect(Int(match.2) == counted * 100 / 10_000, "\(line)")
        }
    }

    @Test("a table the server defines differently, or one holding rows of its own: refused before anything is written")
    func conflictsAreRefused() async throws {
        try await Self.withPair(rows: 1000) { pair in
            try await pair.makeTargetDatabase("conflict")
            // The source's schema, with one column more on the server's tasks.
            let dump = try await SystemCommandRunner().run(
                [
                    "bash", "-c",
                    "pg_dump -h \(pair.socketDirectory) -p \(pair.sourcePort) -U postgres --schema-only --no-owner --no-privileges --schema public postgres | sed 's/^CREATE SCHEMA public;$//' | psql -q -v ON_ERROR_STOP=1 -h \(pair.socketDirectory) -p \(pair.targetPort) -U postgres -d conflict",
                ], timeout: .seconds(120))
            try #require(dump.status == 0, "\(dump.stderr)")
            try await pair.psql(.target, "ALTER TABLE public.tasks ADD COLUMN note text", database: "conflict")
            let setup = try Self.setup(pair, database: "conflict")
            let refusal = await #expect(throws: UserError.self) { _ = try await setup.migration.preflight() }
            #expect(
                refusal?.message.contains("public.tasks is defined differently on the server: an extra column note")
                    == true)
            #expect(!FileManager.default.fileExists(atPath: setup.statePath))

            // Defined the same, but a table holds a row the server wrote itself.
            try await pair.psql(.target, "ALTER TABLE public.tasks DROP COLUMN note", database: "conflict")
            try await pair.psql(
                .target, "INSERT INTO public.audit_log VALUES ('now', 'the server''s own')", database: "conflict")
            let held = await #expect(throws: UserError.self) { _ = try await setup.migration.preflight() }
            #expect(held?.message.contains("public.audit_log already holds 1 row(s)") == true)

            // Some of the tables and not others.
            try await pair.psql(
                .target, "DELETE FROM public.audit_log; DROP TABLE public.deliverables", database: "conflict")
            let partial = await #expect(throws: UserError.self) { _ = try await setup.migration.preflight() }
            #expect(partial?.message.contains("but not public.deliverables") == true)
            // Nothing was written: no record, and the server's tables are as they were (empty).
            #expect(!FileManager.default.fileExists(atPath: setup.statePath))
            #expect(
                try await pair.psql(
                    .target,
                    "SELECT (SELECT count(*) FROM public.tasks) + (SELECT count(*) FROM public.events) + (SELECT count(*) FROM auth.users)",
                    database: "conflict") == "0")
        }
    }

    @Test("names that are patterns to pg_dump, or hold quotes and separators: only the schema named moves, intact")
    func oddNames() async throws {
        try await Self.withPair(rows: 1000) { pair in
            try await pair.psql(
                .source,
                #"CREATE SCHEMA "sa*les"; CREATE TABLE "sa*les"."or""ders" (id int PRIMARY KEY, "we|ird" text); INSERT INTO "sa*les"."or""ders" VALUES (1, E'a\tb|c\\d'), (2, NULL); CREATE SCHEMA "saXles"; CREATE TABLE "saXles".t (id int PRIMARY KEY); INSERT INTO "saXles".t VALUES (1)"#
            )
            try await pair.makeTargetDatabase("odd")
            let setup = try Self.setup(pair, database: "odd", options: MigrationOptions(schemas: ["sa*les"]))
            let report = try await setup.migration.run(try await setup.migration.preflight())
            #expect(report.passed)
            #expect(Set(report.tables.map(\.table)) == ["auth.users", "auth.identities", #"sa*les.or"ders"#])
            #expect(
                try await pair.psql(
                    .target,
                    "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname LIKE 'sa%'",
                    database: "odd") == "sa*les")
            let rows =
                #"SELECT string_agg(id || ':' || coalesce("we|ird", '-'), ',' ORDER BY id) FROM "sa*les"."or""ders""#
            #expect(try await pair.psql(.target, rows, database: "odd") == (try await pair.psql(.source, rows)))
        }
    }

    @Test(
        "a source that drops its connection in the middle of a table: a clear error, nothing of the table kept; the next run finishes"
    )
    func droppedConnectionResumes() async throws {
        try await Self.withPair(rows: 200_000) { pair in
            try await pair.makeTargetDatabase("dropped")
            let setup = try Self.setup(pair, database: "dropped")
            // The schema first, then a lock held on the server's events: the copy of events starts on the source and
            // waits on the server, so the source's connection can be cut in the middle of it.
            try await setup.migration.applySchema(["public"], section: "pre-data")
            try await setup.migration.applySchema(["public"], section: "post-data")
            let preflight = try await setup.migration.preflight()
            let locker = Task {
                try await pair.psql(
                    .target, "BEGIN; LOCK TABLE public.events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT",
                    database: "dropped")
            }
            for _ in 0..<100 {
                let held = try await pair.psql(
                    .target,
                    "SELECT count(*) FROM pg_locks WHERE relation = 'public.events'::regclass AND mode = 'AccessExclusiveLock' AND granted",
                    database: "dropped")
                if held == "1" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let run = Task { try await setup.migration.run(preflight) }
            var terminated = false
            for _ in 0..<600 {
                try await Task.sleep(for: .milliseconds(100))
                let cut = try await pair.psql(
                    .source,
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sbs-migrate' AND query LIKE 'COPY \"public\".\"events\"%'"
                )
                if cut == "1" {
                    terminated = true
                    break
                }
            }
            try #require(terminated, "the copy of public.events never started on the source")
            // The server's lock is let go: the copy there sees its input end early.
            try await pair.psql(
                .target,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
                database: "dropped")
            _ = await locker.result
            let failed = await #expect(throws: UserError.self) { _ = try await run.value }
            #expect(failed?.message.contains("Copying public.events failed") == true)
            #expect(failed?.message.contains("connection to server was lost") == true, "\(String(describing: failed))")
            #expect(failed?.remedy?.contains("sbs migrate` again") == true)
            let state = try #require(try MigrationState.load(from: setup.statePath))
            #expect(state.tables["public.events"]?.status == .copying)
            #expect(state.tables["public.tasks"]?.status == .verified)
            #expect(try await pair.psql(.target, "SELECT count(*) FROM public.events", database: "dropped") == "0")

            let report = try await setup.migration.run(try await setup.migration.preflight())
            #expect(report.passed)
            #expect(report.tables.filter(\.copiedNow).map(\.table) == ["public.events"])
            let source = try await Self.wholeRows(pair, .source, "public.events", database: "postgres")
            #expect(try await Self.wholeRows(pair, .target, "public.events", database: "dropped") == source)
        }
    }
}
