import Deploy
import FoundationEssentials
import Glibc
import Processes
import SBSCore

/// A restore under way, kept by `sbs restore` in `/var/lib/sbs/restore.json` (0600) from before it changes
/// anything until the install's steps have all finished after it: a restore killed half-way is found again
/// (`sbs restore` goes on with the files, `sbs resume` with the steps), the step `restore-database` knows what to
/// restore, and `obtain-certificate` keeps the restored certificate while it is valid.
public struct PendingRestore: Codable, Sendable, Hashable {
    /// The backup's run id (`20261205T031500Z`).
    public var run: String
    /// The repository restored from (`--repository`, or the answers' one), and restic's options for it (how ssh
    /// reaches an sftp repository).
    public var repository: String
    public var resticOptions: [String]
    /// Where restic reads an S3 or REST repository's credentials (a 0600 file under sbs's state folder).
    public var resticAccess: Restic.Access?
    /// The database parts of the backup, `db/globals.sql` first.
    public var databaseParts: [BackupManifest.Part]
    /// When `sbs restore` was started: two restores of the same backup are two runs of the step.
    public var requested: String
    /// True once `/etc/sbs` and the deploy folder are back in place.
    public var filesRestored: Bool
    /// True once the database is back (step `restore-database`); the record is removed when the install's steps
    /// have all finished after it.
    public var databaseRestored: Bool

    public init(
        run: String, repository: String, resticOptions: [String] = [], resticAccess: Restic.Access? = nil,
        databaseParts: [BackupManifest.Part], requested: String, filesRestored: Bool = false,
        databaseRestored: Bool = false
    ) {
        self.run = run
        self.repository = repository
        self.resticOptions = resticOptions
        self.resticAccess = resticAccess
        self.databaseParts = databaseParts
        self.requested = requested
        self.filesRestored = filesRestored
        self.databaseRestored = databaseRestored
    }

    public static func path(in layout: Layout) -> String { layout.stateDir + "/restore.json" }

    public func save(in layout: Layout) throws(UserError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self) + "\n"
        try AtomicFile.write(text, to: Self.path(in: layout), mode: 0o600)
    }

    /// The restore under way under `layout`; nil when there is none.
    /// - Throws: `UserError` when the file cannot be read or parsed.
    public static func load(in layout: Layout) throws(UserError) -> PendingRestore? {
        let path = Self.path(in: layout)
        guard let text = try AtomicFile.readText(path, limit: .state) else { return nil }
        do { return try JSONDecoder().decode(PendingRestore.self, from: Data(text.utf8)) } catch {
            throw UserError(
                "\(path) cannot be read: \(error)",
                remedy: "Run `sbs restore` again: it starts the restore over (nothing is lost while the file is there)."
            )
        }
    }

    public static func remove(in layout: Layout) throws(UserError) {
        let path = Self.path(in: layout)
        guard unlink(path) == 0 || errno == ENOENT else { throw AtomicFile.systemError("unlink", path) }
        AtomicFile.syncDirectory(layout.stateDir)
    }
}

/// The database of a backup put back into the stack's app-db, which runs alone on a fresh volume: the roles
/// (`db/globals.sql` through psql, where the roles the image creates itself already exist), then every database
/// dropped and recreated from its dump (`pg_restore --create --exit-on-error`), streamed from restic and never
/// through sbs's memory or a file. Each table's rows are counted afterwards and reported.
public struct DatabaseRestore: Sendable {
    public var restic: Restic
    public var project: ComposeProject
    public var parts: [BackupManifest.Part]
    public var runner: any PipelineRunner
    public var progress: @Sendable (String) -> Void

    public init(
        restic: Restic, project: ComposeProject, parts: [BackupManifest.Part], runner: any PipelineRunner,
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.restic = restic
        self.project = project
        self.parts = parts
        self.runner = runner
        self.progress = progress
    }

    static let timeout: Duration = .seconds(6 * 3600)

    /// - Returns: each database with its tables and rows as restored.
    /// - Throws: `UserError` naming the part that did not restore.
    public func run() async throws(UserError) -> [BackupTrial.DatabaseResult] {
        let remedy =
            "Fix the cause: the next run restores the database again from the start (the backup is untouched)."
        let failed = { (part: BackupManifest.Part, result: CommandResult) in
            UserError(
                "Restoring \(part.name) failed (exit \(result.status)): \(result.stderr.lastLines(3))", remedy: remedy)
        }
        let trial = BackupTrial(restic: restic, project: project, runner: runner, progress: progress)
        if let globals = parts.first(where: { $0.name == "db/globals.sql" }) {
            let restored = try await trial.stream(
                globals, into: ["psql", "-U", "postgres", "-d", "template1", "-X", "-q"],
                failed: { failed(globals, $0) })
            // psql goes on after an error: the roles the image created itself already exist, which is expected;
            // any other error is not.
            let errors = restored.stderr.split(separator: "\n").filter {
                $0.contains("ERROR:") && !$0.contains("already exists")
            }
            guard errors.isEmpty else {
                throw UserError(
                    "Restoring the roles (db/globals.sql) failed: \(errors.prefix(3).joined(separator: "; "))",
                    remedy: remedy)
            }
            progress("db/globals.sql: the roles restored")
        }
        var results: [BackupTrial.DatabaseResult] = []
        for part in parts where part.name.hasPrefix("db/") && part.name.hasSuffix(".dump") {
            let database = String(part.name.dropFirst("db/".count).dropLast(".dump".count))
            try await trial.psql("template1", "DROP DATABASE IF EXISTS \"\(database)\" WITH (FORCE)")
            _ = try await trial.stream(
                part, into: ["pg_restore", "-U", "postgres", "-d", "template1", "--create", "--exit-on-error"],
                failed: { failed(part, $0) })
            let counts = try await trial.counts(database)
            let restored = BackupTrial.DatabaseResult(
                database: database, tables: counts.count, rows: counts.values.reduce(0, +), differences: [])
            progress("\(part.name): restored, \(restored.summary)")
            results.append(restored)
        }
        guard !results.isEmpty else { throw UserError("The backup holds no database dump to restore.") }
        return results
    }
}
