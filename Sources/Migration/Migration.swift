import FoundationEssentials
import Processes
import SBSCore

/// `sbs migrate`: a hosted Supabase project's data brought onto the server, table by table, each one verified.
///
/// `preflight()` reads both sides and plans, writing nothing; `run(_:)` applies the source's schema in one
/// transaction (when none of its tables exists on the server yet), copies each table (`TableCopy`), checks its row
/// count and key checksum on both sides, sets the sequences, and keeps its progress in `MigrationState` so that a
/// stopped run goes on with the tables not yet verified.
public struct Migration: Sendable {
    public var sourceURL: SourceURL
    public var source: Database
    public var target: Database
    public var options: MigrationOptions
    /// The record (`MigrationState.path(in:)`).
    public var statePath: String
    /// Runs psql and pg_dump; its environment carries `PGPASSFILE` when the source has a password.
    public var runner: any PipelineRunner
    public var progress: @Sendable (String) -> Void
    /// How often a long copy says how far it is.
    public var progressInterval: Duration = .seconds(2)

    public init(
        sourceURL: SourceURL, target: Database, options: MigrationOptions, statePath: String,
        runner: any PipelineRunner, progress: @escaping @Sendable (String) -> Void
    ) {
        self.sourceURL = sourceURL
        self.source = .source(sourceURL)
        self.target = target
        self.options = options
        self.statePath = statePath
        self.runner = runner
        self.progress = progress
    }

    /// What preflight found: both servers' versions and the plan.
    public struct Preflight: Sendable {
        public var sourceVersion: String
        public var serverVersion: String
        public var plan: MigrationPlan
        /// The record of an earlier run of this migration, if any.
        public var state: MigrationState?
        var source: Inventory

        /// The summary shown before the confirmation (and by `--dry-run`).
        public func summary(source: String, target: String) -> [String] {
            var lines = ["From \(source) (PostgreSQL \(sourceVersion)) into \(target) (PostgreSQL \(serverVersion)):"]
            let verified = Set(state?.tables.filter { $0.value.status == .verified }.map(\.key) ?? [])
            if plan.applySchema {
                lines.append(
                    "  schema \(plan.schemas.joined(separator: ", ")): its tables made first, their indexes, keys and constraints added once the rows are in (each in one transaction)"
                )
            } else {
                lines.append(
                    "  schema \(plan.schemas.joined(separator: ", ")): on the server already, defined as in the source")
            }
            let width = max(5, plan.tables.map(\.table.description.count).max() ?? 0) + 2
            for table in plan.tables {
                let name = table.table.description
                let padded = name + String(repeating: " ", count: max(1, width - name.count))
                var line =
                    "  " + padded + "\(TableCopy.count(table.rows)) rows, \(TableCopy.megabytes(Double(table.bytes)))"
                if verified.contains(name) { line += "  (copied and verified by an earlier run)" }
                if !table.notCarried.isEmpty {
                    line += "  (not carried, the server's table lacks: \(table.notCarried.joined(separator: ", ")))"
                }
                lines.append(line)
            }
            lines.append("  then \(plan.sequences.count) sequence(s) set to the source's values")
            if plan.tables.contains(where: { $0.table.schema == "auth" }) {
                lines.append(
                    "  The users keep their ids and password hashes: each logs in with the same password. This server signs its own tokens, so sessions and API keys of the hosted project stop working."
                )
            }
            return lines
        }
    }

    /// Connects to both sides, reads their catalogs and plans. Writes nothing.
    /// - Throws: `UserError` when a side cannot be reached, the record names another source, or the plan is
    ///   refused (`MigrationPlan.make`).
    public func preflight() async throws(UserError) -> Preflight {
        let state = try MigrationState.load(from: statePath)
        if let state, state.source != sourceURL.description, !state.finished {
            throw UserError(
                "A migration from \(state.source) is recorded in \(statePath) and has not finished.",
                remedy: "Finish it first (sbs migrate --from \(state.source)), or move \(statePath) away to give it up."
            )
        }
        let ours = state.map { $0.source == sourceURL.description ? $0.ours : [] } ?? []
        let schemas = options.schemas + ["auth"]
        let (theirs, mine) = try await together { () async throws(UserError) in
            try await Inventory.read(source, schemas: schemas, runner: runner)
        } and: { () async throws(UserError) in
            try await Inventory.read(target, schemas: schemas, runner: runner)
        }
        let plan = try makePlan(theirs, mine, ours: ours)
        if plan.applySchema { try await checkDumpVersion(sourceMajor: theirs.major) }
        return Preflight(
            sourceVersion: theirs.version, serverVersion: mine.version, plan: plan, state: state, source: theirs)
    }

    func makePlan(_ theirs: Inventory, _ mine: Inventory, ours: Set<TableName>) throws(UserError) -> MigrationPlan {
        try MigrationPlan.make(
            options: options, source: theirs, local: mine, sizes: theirs.sizes, localRows: mine.sizes.mapValues(\.rows),
            ours: ours)
    }

    /// pg_dump refuses a server newer than itself: say so before anything is written.
    func checkDumpVersion(sourceMajor: Int) async throws(UserError) {
        let result = try await runner.run([Database.client("pg_dump"), "--version"], timeout: .seconds(30))
        guard result.status == 0 else { throw source.failure(result, doing: "pg_dump --version") }
        // "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        let words = result.stdout.split(separator: " ")
        guard words.count >= 3, let major = Int(words[2].split(separator: ".").first ?? "") else { return }
        if major < sourceMajor {
            throw UserError(
                "This host's pg_dump is version \(major), older than the source's PostgreSQL \(sourceMajor): it cannot dump that server.",
                remedy:
                    "Install the client of PostgreSQL \(sourceMajor) (postgresql-client-\(sourceMajor), from apt.postgresql.org), then run sbs migrate again."
            )
        }
    }

    /// Applies the plan; goes on from the record of an earlier run.
    /// - Returns: the report (row counts and checksums of every table, on both sides).
    /// - Throws: `UserError` when a step fails; what was verified stays recorded.
    public func run(_ preflight: Preflight) async throws(UserError) -> MigrationReport {
        var state =
            preflight.state.flatMap { $0.source == sourceURL.description ? $0 : nil }
            ?? MigrationState(source: sourceURL.description)
        state.finished = false
        try state.save(to: statePath)
        var plan = preflight.plan
        if plan.applySchema && !state.schemaApplied {
            // The tables first; their indexes, keys, constraints and triggers once the rows are in (as pg_restore
            // does: building an index once is faster than keeping it up to date row by row).
            try await applySchema(plan.schemas, section: "pre-data")
            state.schemaApplied = true
            state.postDataPending = true
            try state.save(to: statePath)
            // Read back: the tables must now exist on the server, defined as in the source.
            let made = try await Inventory.read(
                target, schemas: options.schemas + ["auth"], counting: false, runner: runner)
            plan = try makePlan(preflight.source, made, ours: state.ours)
            guard !plan.applySchema else {
                throw UserError("The schema was applied, but the source's tables are not on the server.")
            }
        }
        var results: [MigrationReport.Table] = []
        var notCarried: [String: [String]] = [:]
        for table in plan.tables {
            let key = table.table.description
            if !table.notCarried.isEmpty { notCarried[key] = table.notCarried }
            if state.tables[key]?.status == .verified { continue }
            state.tables[key] = .init(status: .copying)
            try state.save(to: statePath)
            progress("copying \(key) (\(TableCopy.count(table.rows)) rows)")
            let (theirs, mine) = try await TableCopy(
                plan: table, source: source, target: target, runner: runner, progress: progress,
                interval: progressInterval
            ).run()
            results.append(row(table, theirs, mine, copiedNow: true))
            guard theirs == mine else {
                throw UserError(
                    "After its copy, \(key) has \(mine.rows) row(s) on the server and \(theirs.rows) were sent, and their keys' checksums \(theirs.checksum == mine.checksum ? "agree" : "differ").",
                    remedy:
                        "Something else wrote into the server's table meanwhile: stop it, then run sbs migrate again (the table is copied anew)."
                )
            }
            state.tables[key] = .init(status: .verified, rows: mine.rows, checksum: mine.checksum)
            try state.save(to: statePath)
        }
        if state.postDataPending {
            try await applySchema(plan.schemas, section: "post-data")
            state.postDataPending = false
            try state.save(to: statePath)
        }
        if !state.sequencesSet {
            try await setSequences(plan.sequences)
            state.sequencesSet = true
            try state.save(to: statePath)
        }
        // The tables an earlier run verified are checked again: the report is of now.
        let copied = Set(results.map(\.table))
        for table in plan.tables where !copied.contains(table.table.description) {
            let (theirs, mine) = try await checksums(table)
            results.append(row(table, theirs, mine, copiedNow: false))
            if theirs != mine { state.tables[table.table.description] = .init(status: .copying) }
        }
        let order = Dictionary(uniqueKeysWithValues: plan.tables.enumerated().map { ($1.table.description, $0) })
        results.sort { order[$0.table, default: 0] < order[$1.table, default: 0] }
        let report = MigrationReport(
            source: sourceURL.description, tables: results, sequencesSet: plan.sequences.count, notCarried: notCarried)
        state.finished = report.passed
        try state.save(to: statePath)
        return report
    }

    func row(_ table: TablePlan, _ theirs: TableChecksum, _ mine: TableChecksum, copiedNow: Bool)
        -> MigrationReport.Table
    {
        MigrationReport.Table(
            table: table.table.description, sourceRows: theirs.rows, serverRows: mine.rows,
            sourceChecksum: theirs.checksum, serverChecksum: mine.checksum, copiedNow: copiedNow)
    }

    func checksums(_ table: TablePlan) async throws(UserError) -> (TableChecksum, TableChecksum) {
        try await together { () async throws(UserError) in
            try await TableChecksum.read(table, from: source, runner: runner)
        } and: { () async throws(UserError) in
            try await TableChecksum.read(table, from: target, runner: runner)
        }
    }

    /// One section of the chosen schemas (`pg_dump --section`: `pre-data`, the tables, types, functions and
    /// sequences; `post-data`, the indexes, keys, constraints, triggers and policies), applied on the server by one
    /// psql transaction: all of it or none. Owners and grants are left out (the hosted project's roles are not this
    /// server's); a schema the server has already (`public`) is created only if missing. The script applied is kept
    /// beside the record (`migration-pre-data.sql`, `migration-post-data.sql`), as what was run.
    func applySchema(_ schemas: [String], section: String) async throws(UserError) {
        progress(
            section == "pre-data"
                ? "applying the schema of \(schemas.joined(separator: ", ")) (its tables) in one transaction"
                : "adding the indexes, keys, constraints and triggers of \(schemas.joined(separator: ", ")) in one transaction"
        )
        var arguments = ["--section", section, "--no-owner", "--no-privileges"]
        // pg_dump reads --schema as a pattern (`*`, `?`, `.`): quoted, the name matches only itself.
        for schema in schemas { arguments += ["--schema", SQL.identifier(schema)] }
        let dump = try await runner.run(source.pgDump(arguments), timeout: .seconds(3600))
        guard dump.status == 0 else { throw source.failure(dump, doing: "pg_dump --section \(section)") }
        guard dump.stdout.utf8.count < SystemCommandRunner().maxOutputBytes else {
            throw UserError("The source's schema is larger than sbs migrate reads (16 MiB).")
        }
        let script = Self.schemaScript(dump.stdout, schemas: schemas)
        let path = AtomicFile.parentDirectory(of: statePath) + "/migration-\(section).sql"
        try AtomicFile.write(script, to: path, mode: 0o600)
        let result = try await runner.runPipeline(
            ["cat", path], into: target.psql(["--single-transaction", "--file", "-"]), timeout: .seconds(3600))
        if result.consumer.status != 0 || result.producer.status != 0 {
            throw UserError(
                "The source's schema (\(section)) did not apply on the server; nothing of it was kept: \(result.consumer.stderr.lastLines(3))",
                remedy:
                    "The script is \(path). Create what it needs on the server (a role, an extension), or drop what conflicts, then run sbs migrate again."
            )
        }
    }

    /// pg_dump's script with `CREATE SCHEMA name;` of a chosen schema made `CREATE SCHEMA IF NOT EXISTS`.
    static func schemaScript(_ dump: String, schemas: [String]) -> String {
        let creations = Set(schemas.flatMap { ["CREATE SCHEMA \($0);", "CREATE SCHEMA \(SQL.identifier($0));"] })
        return dump.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            creations.contains(String(line))
                ? "CREATE SCHEMA IF NOT EXISTS" + line.dropFirst("CREATE SCHEMA".count) : line
        }.joined(separator: "\n")
    }

    /// The source's sequence values on the server (`setval`), in one transaction.
    func setSequences(_ sequences: [(name: TableName, lastValue: String)]) async throws(UserError) {
        guard !sequences.isEmpty else { return }
        progress("setting \(sequences.count) sequence(s)")
        var arguments = ["--single-transaction"]
        for sequence in sequences {
            guard Int(sequence.lastValue) != nil else { continue }
            arguments += ["--command", "SELECT setval(\(SQL.literal(sequence.name.sql)), \(sequence.lastValue), true)"]
        }
        let result = try await runner.run(target.psql(arguments), timeout: .seconds(600))
        guard result.status == 0 else { throw target.failure(result, doing: "setting the sequences") }
    }

    /// Runs both at once (one on each side of the migration) and waits for both.
    func together<A: Sendable, B: Sendable>(
        _ first: @Sendable () async throws(UserError) -> A, and second: @Sendable () async throws(UserError) -> B
    ) async throws(UserError) -> (A, B) {
        async let one = Self.attempt(first)
        async let two = Self.attempt(second)
        let results = await (one, two)
        return (try results.0.get(), try results.1.get())
    }

    static func attempt<T>(_ body: () async throws(UserError) -> T) async -> Result<T, UserError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }
}

extension Migration {
    /// Whether the source refuses a login without a password (psql `--no-password` fails asking for one).
    public func sourceAsksForPassword() async -> Bool {
        guard let result = try? await runner.run(source.psql(["--command", "SELECT 1"]), timeout: .seconds(60)),
            result.status != 0
        else { return false }
        return Database.asksForPassword(result.stderr)
    }
}
