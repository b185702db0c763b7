import FoundationEssentials
import Processes
import SBSCore

/// One table's data streamed from the source into the server, never through sbs's memory or a file: the source's
/// psql prints a script, `BEGIN`, the statements that prepare the table, `COPY … FROM STDIN`, then the rows as
/// `COPY … TO STDOUT` sends them, then `\.`, the statements that print both sides' row count and key checksum
/// (`TableChecksum`), and `COMMIT`; the server's psql runs that script from its input. The source reads the rows and
/// its checksum in one snapshot (`REPEATABLE READ`), so the figures are of exactly the rows sent, and the server
/// counts within the transaction that loaded them: no connection more, no second pass over the network.
///
/// The script ends with COMMIT only when the source's COPY finished (psql stops at the first error, before it
/// prints the end): a source that drops its connection, or a run that is killed, leaves the server's psql at the end
/// of its input inside an open transaction, which the server rolls back. In the transaction the table is first taken
/// for this copy alone (a psql of a killed earlier run that is still writing into it is waited for), emptied, and
/// loaded with triggers and foreign-key checks off (`session_replication_role = replica`, as pg_dump's
/// `--disable-triggers` does: the rows were checked on the source).
struct TableCopy: Sendable {
    var plan: TablePlan
    var source: Database
    var target: Database
    var runner: any PipelineRunner
    var progress: @Sendable (String) -> Void
    /// How often the server's progress is read (`pg_stat_progress_copy`).
    var interval: Duration = .seconds(2)
    /// The server session's name while it copies: how its progress is told from another copy of the same table (a
    /// psql of a killed run that is still at work).
    var session = "sbs-migrate " + String(UInt64.random(in: 0...UInt64.max), radix: 16)

    /// A table can take hours over a slow link.
    static let timeout: Duration = .seconds(12 * 3600)

    var columnList: String { "(" + plan.columns.map(SQL.identifier).joined(separator: ", ") + ")" }

    /// What the server runs before the rows.
    var header: String {
        (["BEGIN"] + Database.sessionSettings + [
            "SET application_name = \(SQL.literal(session))",
            "SET session_replication_role = replica",
            "LOCK TABLE ONLY \(plan.table.sql) IN ACCESS EXCLUSIVE MODE",
            "DELETE FROM ONLY \(plan.table.sql)",
            "COPY \(plan.table.sql) \(columnList) FROM STDIN",
        ]).joined(separator: ";\n") + ";"
    }

    /// The source's psql: the header, the rows, the end (each printed by a SELECT of a dollar-quoted text; the
    /// source's figures as a statement that prints them on the server).
    var producer: [String] {
        let figures = TableChecksum.figures(plan)
        let tail = "SELECT 'sbs-server|' || \(figures) FROM ONLY \(plan.table.sql);\nCOMMIT;"
        let arguments = [
            "--tuples-only", "--no-align",
            "--command",
            (Database.sessionSettings + ["BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"]).joined(separator: "; "),
            "--command", "SELECT " + SQL.dollarQuoted(header),
            "--command", "COPY \(plan.table.sql) \(columnList) TO STDOUT",
            "--command", "SELECT " + SQL.dollarQuoted("\\."),
            "--command", "SELECT format('SELECT %L;', 'sbs-source|' || \(figures)) FROM ONLY \(plan.table.sql)",
            "--command", "SELECT " + SQL.dollarQuoted(tail),
            "--command", "COMMIT",
        ]
        return source.psql(arguments)
    }

    /// The server's psql, running the script from its standard input.
    var consumer: [String] { target.psql(["--tuples-only", "--no-align", "--file", "-"]) }

    /// - Returns: the row count and key checksum of the rows sent (`source`) and of those committed (`server`).
    /// - Throws: `UserError` naming the side that failed and what it said.
    func run() async throws(UserError) -> (source: TableChecksum, server: TableChecksum) {
        let started = ContinuousClock.now
        let watcher = Task { await watch(since: started) }
        let result: PipelineResult
        do { result = try await runner.runPipeline(producer, into: consumer, timeout: Self.timeout) } catch {
            watcher.cancel()
            throw error
        }
        watcher.cancel()
        let again = "Run `sbs migrate` again: \(plan.table) is emptied and copied anew, the verified tables are kept."
        if result.producer.status != 0 {
            throw UserError(
                "Copying \(plan.table) failed: \(source.name) stopped sending it\(result.producer.timedOut ? " (timed out)" : ""): \(result.producer.stderr.lastLines(5))",
                remedy: again)
        }
        if result.consumer.status != 0 {
            throw UserError(
                "Copying \(plan.table) failed on \(target.name)\(result.consumer.timedOut ? " (timed out)" : ""): \(result.consumer.stderr.lastLines(3))",
                remedy: again)
        }
        var figures: [String: TableChecksum] = [:]
        for line in result.consumer.stdout.split(separator: "\n") {
            let fields = line.split(separator: "|").map(String.init)
            guard fields.count == 3, let rows = Int(fields[1]) else { continue }
            figures[fields[0]] = TableChecksum(rows: rows, checksum: fields[2])
        }
        guard let sent = figures["sbs-source"], let committed = figures["sbs-server"] else {
            throw UserError(
                "The copy of \(plan.table) ended without its row counts: \(result.consumer.stdout.lastLines(3))",
                remedy: again)
        }
        let seconds = Self.seconds(ContinuousClock.now - started)
        progress("\(plan.table): \(Self.count(committed.rows)) rows copied in \(Self.duration(seconds))")
        return (sent, committed)
    }

    /// Prints the server's progress while the copy runs: rows of the expected count, rows and bytes per second.
    func watch(since started: ContinuousClock.Instant) async {
        let query =
            "SELECT p.tuples_processed, p.bytes_processed FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid) WHERE a.application_name = \(SQL.literal(session))"
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled,
                let row = try? await target.query([query], runner: runner, timeout: .seconds(30)).first,
                row.count == 2, let rows = Int(row[0]), let bytes = Int(row[1]), !Task.isCancelled
            else { continue }
            let seconds = max(Self.seconds(ContinuousClock.now - started), 0.001)
            let share = plan.rows > 0 ? " (\(min(100, rows * 100 / plan.rows))%)" : ""
            progress(
                "\(plan.table): \(Self.count(rows)) of \(Self.count(plan.rows)) rows\(share), \(Self.count(Int(Double(rows) / seconds))) rows/s, \(Self.megabytes(Double(bytes) / seconds))/s"
            )
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// 1234567 → "1,234,567".
    static func count(_ value: Int) -> String {
        var digits = Array(String(value))
        var index = digits.count - 3
        while index > 0 {
            digits.insert(",", at: index)
            index -= 3
        }
        return String(digits)
    }

    static func megabytes(_ bytes: Double) -> String {
        let tenths = Int((bytes / 1_000_000 * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) MB"
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 60 ? "\(Int(seconds.rounded())) s" : "\(Int(seconds) / 60) min \(Int(seconds) % 60) s"
    }
}

/// A table's row count and a checksum of its key columns: the sum of each row's key's 64-bit hash
/// (`hashtextextended`, the hash that hash partitioning keeps stable across servers and versions) over the key as
/// text; an order-free sum, so no sort and no collation enters it, and a row missing, added twice or with another key
/// changes it. Both servers print the key in the same settings (`Database.sessionSettings`).
struct TableChecksum: Sendable, Equatable, Codable {
    var rows: Int
    var checksum: String

    /// The SQL text of the figures, `count|checksum`, over `plan`'s table.
    static func figures(_ plan: TablePlan) -> String {
        let columns = plan.key.map(SQL.identifier).joined(separator: ", ")
        let key = plan.key.count == 1 ? columns + "::text" : "ROW(\(columns))::text"
        return "count(*) || '|' || coalesce(sum(hashtextextended(\(key), 0)), 0)"
    }

    static func read(_ plan: TablePlan, from database: Database, runner: any CommandRunner) async throws(UserError)
        -> Self
    {
        let rows = try await database.query(
            ["SELECT \(figures(plan)) FROM ONLY \(plan.table.sql)"], runner: runner, timeout: .seconds(3600))
        let fields = rows.first?.first?.split(separator: "|").map(String.init) ?? []
        guard fields.count == 2, let count = Int(fields[0]) else {
            throw UserError("\(database.name) gave no row count for \(plan.table).")
        }
        return Self(rows: count, checksum: fields[1])
    }
}
