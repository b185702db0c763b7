import Deploy
import FoundationEssentials
import Processes
import SBSCore

/// `sbs backup --check`: the repository's structure (`restic check`), then a trial restore of the newest backup's
/// databases: each dump is streamed from restic into `pg_restore` in a scratch database of the running app-db
/// (`sbs_check_N`, dropped again), and the row count of every table is compared with the live database. Right
/// after a backup they are equal; a table that differs is named (rows written since the backup differ too, so the
/// check is meant to follow `sbs backup`).
public struct BackupTrial: Sendable {
    public var restic: Restic
    public var project: ComposeProject
    public var runner: any PipelineRunner
    public var progress: @Sendable (String) -> Void

    public init(
        restic: Restic, project: ComposeProject, runner: any PipelineRunner,
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.restic = restic
        self.project = project
        self.runner = runner
        self.progress = progress
    }

    /// What the trial found for one database.
    public struct DatabaseResult: Sendable, Equatable {
        public var database: String
        public var tables: Int
        public var rows: Int
        /// Tables whose counts differ: `schema.table: restored N, live M` (a table only on one side counts as 0
        /// on the other).
        public var differences: [String]

        /// `3 tables, 250 rows` (`1 table, 1 row`).
        public var summary: String {
            "\(tables) table\(tables == 1 ? "" : "s"), \(rows) row\(rows == 1 ? "" : "s")"
        }
    }

    static let timeout: Duration = .seconds(6 * 3600)

    /// Every table of the database (`schema.table`) with its exact row count, in one statement.
    static let countQuery = """
        SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1
        """

    /// - Throws: `UserError` when the repository check fails, there is no backup, or a dump does not restore.
    public func run(_ entry: BackupCatalog.Entry) async throws(UserError) -> [DatabaseResult] {
        let check = try await runner.run(restic.command(["check"]), timeout: Self.timeout)
        guard check.status == 0 else {
            throw Restic.failure(
                "Checking the repository \(restic.location)", status: check.status, stderr: check.stderr)
        }
        progress("restic check: no errors in \(restic.location)")
        var results: [DatabaseResult] = []
        for (index, part) in entry.manifest.parts.enumerated()
        where part.name.hasPrefix("db/") && part.name.hasSuffix(".dump") {
            let database = String(part.name.dropFirst("db/".count).dropLast(".dump".count))
            let scratch = "sbs_check_\(index)"
            try await psql("postgres", "DROP DATABASE IF EXISTS \(scratch)")
            try await psql("postgres", "CREATE DATABASE \(scratch)")
            do throws(UserError) {
                _ = try await stream(part, into: ["pg_restore", "-U", "postgres", "-d", scratch]) { restored in
                    UserError(
                        "The dump \(part.name) of backup \(entry.manifest.run) does not restore: pg_restore exited \(restored.status): \(restored.stderr.lastLines(3))",
                        remedy:
                            "Make a new backup now (`sbs backup`) and check it; keep the older ones until one restores."
                    )
                }
                let restoredCounts = try await counts(scratch)
                let liveCounts = try await counts(database)
                var differences: [String] = []
                for table in Set(restoredCounts.keys).union(liveCounts.keys).sorted()
                where restoredCounts[table] != liveCounts[table] {
                    differences.append(
                        "\(table): restored \(restoredCounts[table] ?? 0), live \(liveCounts[table] ?? 0)")
                }
                let result = DatabaseResult(
                    database: database, tables: restoredCounts.count, rows: restoredCounts.values.reduce(0, +),
                    differences: differences)
                progress(
                    "\(part.name): restored into a scratch database, \(result.summary)\(differences.isEmpty ? ", every count as live" : "; \(differences.count) differ from the live database")"
                )
                results.append(result)
            } catch {
                try? await psql("postgres", "DROP DATABASE IF EXISTS \(scratch)")
                throw error
            }
            try await psql("postgres", "DROP DATABASE IF EXISTS \(scratch)")
        }
        guard !results.isEmpty else {
            throw UserError("Backup \(entry.manifest.run) holds no database dump to restore.")
        }
        return results
    }

    /// `part` streamed from restic into `command` run in app-db (`pg_restore …`, `psql …`), never through sbs's
    /// memory or a file.
    /// - Returns: what the command printed, when restic read the part and the command exited 0.
    /// - Throws: restic's failure, or `failed` of the command's result.
    func stream(
        _ part: BackupManifest.Part, into command: [String], failed: (CommandResult) -> UserError
    ) async throws(UserError) -> CommandResult {
        let result = try await runner.runPipeline(
            restic.command(["dump", part.snapshot, "/" + part.name]),
            into: try await project.exec("app-db", command, runner: runner), timeout: Self.timeout)
        guard result.producer.status == 0 else {
            throw Restic.failure(
                "Reading \(part.name) from snapshot \(part.snapshot.prefix(8))", status: result.producer.status,
                stderr: result.producer.stderr)
        }
        guard result.consumer.status == 0 else { throw failed(result.consumer) }
        return result.consumer
    }

    func psql(_ database: String, _ statement: String) async throws(UserError) {
        let result = try await runner.run(
            try await project.exec(
                "app-db", ["psql", "-U", "postgres", "-d", database, "-c", statement], runner: runner),
            timeout: .seconds(300))
        guard result.status == 0 else {
            throw UserError(
                "`\(statement)` failed in app-db (exit \(result.status)): \(result.stderr.lastLines(3))",
                remedy: "Check that the stack runs (`sbs verify`), then run `sbs backup --check` again.")
        }
    }

    /// Every table's exact row count.
    func counts(_ database: String) async throws(UserError) -> [String: Int] {
        let result = try await runner.run(
            try await project.exec(
                "app-db",
                [
                    "psql", "-U", "postgres", "-d", database, "-At", "-F", "\t", "-c",
                    Self.countQuery,
                ], runner: runner), timeout: Self.timeout)
        guard result.status == 0 else {
            throw UserError(
                "Counting the rows of \(database) failed (exit \(result.status)): \(result.stderr.lastLines(3))",
                remedy: "Check that the stack runs (`sbs verify`), then run `sbs backup --check` again.")
        }
        var counts: [String: Int] = [:]
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2, let count = Int(fields[1]) else { continue }
            counts[String(fields[0])] = count
        }
        return counts
    }
}
