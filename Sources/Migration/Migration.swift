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

        /// The summary shown before the confirmation (and by `--dry-run`).
        public func summary(source: String, target: String) -> [String] {
            var lines = ["From \(source) (PostgreSQL \(sourceVersion)) into \(target) (PostgreSQL \(serverVersion)):"]
            let verified = Set(state?.tables.filter { $0.value.status == .verified }.map(\.key) ?? [])
            if plan.applySchema {
                lines.append("  schema \(plan.schemas.joined(separator: ", ")): applied first, in one transaction")
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
        let versions = try await together { () async throws(UserError) in
            try await version(of: source)
        } and: {
            () async throws(UserError) in
            try await version(of: target)
        }
        let plan = try await makePlan(ours: ours)
        if plan.applySchema { try await checkDumpVersion(sourceMajor: versions.0.major) }
        return Preflight(sourceVersion: versions.0.text, serverVersion: versions.1.text, plan: plan, state: state)
    }

    func makePlan(ours: Set<TableName>) async throws(UserError) -> MigrationPlan {
        let schemas = options.schemas + ["auth"]
        let (theirs, mine) = try await together { () async throws(UserError) in
            try await Inventory.read(source, schemas: schemas, runner: runner)
        } and: { () async throws(UserError) in
            try await Inventory.read(target, schemas: schemas, runner: runner)
        }
        let candidates = theirs.tables.keys.filter {
            options.schemas.contains($0.schema) || MigrationOptions.authTables.contains($0)
        }
        let (sizes, local) = try await together { () async throws(UserError) in
            try await Inventory.sizes(of: candidates.sorted(), in: source, runner: runner)
        } and: { () async throws(UserError) in
            try await Inventory.sizes(
                of: candidates.filter { mine.tables[$0] != nil }.sorted(), in: target, runner: runner)
        }
        return try MigrationPlan.make(
            options: options, source: theirs, local: mine, sizes: sizes, localRows: local.mapValues(\.rows), ours: ours)
    }

    struct Version {
        var text: String
        var major: Int
    }

    func version(of database: Database) async throws(UserError) -> Version {
        let rows = try await database.query(
            ["SELECT current_setting('server_version'), current_setting('server_version_num')"], runner: runner,
            timeout: .seconds(60))
        guard let row = rows.first, row.count == 2, let number = Int(row[1]) else {
            throw UserError("\(database.name) did not say its version.")
        }
        return Version(text: row[0].split(separator: " ").first.map(String.init) ?? row[0], major: number / 10000)
    }

    /// pg_dump refuses a server newer than itself: say so before anything is written.
    func checkDumpVersion(sourceMajor: Int) async throws(UserError) {
        let result = try await runner.run(["pg_dump", "--version"], timeout: .seconds(30))
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
            try await applySchema(plan.schemas)
            state.schemaApplied = true
            try state.save(to: statePath)
            // Read back: the tables must now exist on the server, defined as in the source.
            plan = try await makePlan(ours: state.ours)
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
            try await TableCopy(plan: table, source: source, target: target, runner: runner, progress: progress).run()
            let (theirs, mine) = try await checksums(table)
            results.append(row(table, theirs, mine, copiedNow: true))
            guard theirs == mine else {
                throw UserError(
                    "After its copy, \(key) has \(mine.rows) row(s) on the server and \(theirs.rows) in the source, and their keys' checksums \(theirs.checksum == mine.checksum ? "agree" : "differ").",
                    remedy:
                        "The source changed while it was copied: stop the apps writing to it, then run sbs migrate again (the table is copied anew)."
                )
            }
            state.tables[key] = .init(status: .verified, rows: mine.rows, checksum: mine.checksum)
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

    /// `pg_dump --schema-only` of the chosen schemas, applied on the server by one psql transaction: all of it or
    /// none. Owners and grants are left out (the hosted project's roles are not this server's); a schema the server
    /// has already (`public`) is created only if missing. The script applied is kept beside the record
    /// (`migration-schema.sql`), as what was run.
    func applySchema(_ schemas: [String]) async throws(UserError) {
        progress("applying the schema of \(schemas.joined(separator: ", ")) in one transaction")
        var arguments = ["--schema-only", "--no-owner", "--no-privileges"]
        for schema in schemas { arguments += ["--schema", schema] }
        let dump = try await runner.run(source.pgDump(arguments), timeout: .seconds(3600))
        guard dump.status == 0 else { throw source.failure(dump, doing: "pg_dump --schema-only") }
        guard dump.stdout.utf8.count < SystemCommandRunner().maxOutputBytes else {
            throw UserError("The source's schema is larger than sbs migrate reads (16 MiB).")
        }
        let script = Self.schemaScript(dump.stdout, schemas: schemas)
        let path = AtomicFile.parentDirectory(of: statePath) + "/migration-schema.sql"
        try AtomicFile.write(script, to: path, mode: 0o600)
        let result = try await runner.runPipeline(
            ["cat", path], into: target.psql(["--single-transaction", "--file", "-"]), timeout: .seconds(3600))
        if result.consumer.status != 0 || result.producer.status != 0 {
            throw UserError(
                "The source's schema did not apply on the server; nothing of it was kept: \(result.consumer.stderr.lastLines(3))",
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
