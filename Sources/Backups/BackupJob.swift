import Deploy
import FoundationEssentials
import Processes
import SBSCore

/// `sbs backup`: the database streamed from the app-db container into restic (`pg_dumpall --globals-only`, then
/// `pg_dump -Fc` per database: never through sbs's memory or an unencrypted file), then the configuration, the
/// deploy folder and the certificates as one snapshot, then the manifest that makes the run a backup; then
/// retention (`restic forget --prune`). A part that fails fails the run: the snapshots this run made are forgotten
/// again and every older one is left as it was.
public struct BackupJob: Sendable {
    public var restic: Restic
    public var project: ComposeProject
    /// restic's `--host` for every snapshot: the installation's domain (the same on a new server after a restore).
    public var host: String
    /// The folders and files of the `files` part (those that exist).
    public var paths: [String]
    public var manifest: BackupManifest
    public var keep: Retention
    /// Whether the run ends with retention (`forget --prune`); not for the backup `sbs restore` makes of what it
    /// replaces, which must not prune the backup being restored.
    public var prune = true
    public var runner: any PipelineRunner
    public var progress: @Sendable (String) -> Void

    /// How many snapshots of each part `restic forget` keeps.
    public struct Retention: Sendable, Equatable {
        public var daily: Int
        public var weekly: Int
        public var monthly: Int

        public init(daily: Int, weekly: Int, monthly: Int) {
            self.daily = daily
            self.weekly = weekly
            self.monthly = monthly
        }

        /// Beside the newest snapshot of each of the last `daily` days (and weeks, months), the two newest whatever
        /// their day: a backup made by hand before an upgrade is not pruned by the same night's.
        var arguments: [String] {
            [
                "--keep-last", "2", "--keep-daily", String(daily), "--keep-weekly", String(weekly), "--keep-monthly",
                String(monthly),
            ]
        }
    }

    /// A dump can take hours on a large database.
    static let partTimeout: Duration = .seconds(6 * 3600)

    public init(
        restic: Restic, project: ComposeProject, host: String, paths: [String], manifest: BackupManifest,
        keep: Retention, runner: any PipelineRunner, progress: @escaping @Sendable (String) -> Void
    ) {
        self.restic = restic
        self.project = project
        self.host = host
        self.paths = paths
        self.manifest = manifest
        self.keep = keep
        self.runner = runner
        self.progress = progress
    }

    var tags: [String] { ["sbs", "sbs-run:\(manifest.run)", "sbs-version:\(manifest.sbsVersion)"] }

    /// - Returns: the manifest with every part's snapshot.
    /// - Throws: `UserError` naming the part that failed.
    public func run() async throws(UserError) -> BackupManifest {
        try await ensureRepository()
        try await removeStaleLocks()
        var manifest = self.manifest
        var made: [String] = []
        do throws(UserError) {
            let databases = try await databaseNames()
            progress("databases: \(databases.joined(separator: ", "))")
            let globals = try await streamPart(
                "db/globals.sql",
                from: project.command(["exec", "-T", "app-db", "pg_dumpall", "-U", "postgres", "--globals-only"]),
                made: &made)
            manifest.parts.append(globals)
            for database in databases {
                // Uncompressed (-Z0): restic compresses and deduplicates what it stores, and an unchanged database
                // then dumps to the same chunks; pg_dump's own zlib would cost most of the backup's time every night
                // and hide the unchanged parts from deduplication.
                let part = try await streamPart(
                    "db/\(database).dump",
                    from: project.command([
                        "exec", "-T", "app-db", "pg_dump", "-Fc", "-U", "postgres", "-d", database, "--compress=0",
                    ]),
                    made: &made)
                manifest.parts.append(part)
            }
            let files = paths.filter { AtomicFile.exists($0) }
            let result = try await runner.run(
                restic.command(
                    ["backup", "--json", "--host", host] + tags.flatMap { ["--tag", $0] } + ["--"] + files),
                timeout: Self.partTimeout)
            guard result.status == 0, let summary = ResticBackupSummary.find(in: result.stdout) else {
                if let summary = ResticBackupSummary.find(in: result.stdout) { made.append(summary.snapshotID) }
                throw Restic.failure(
                    "Backing up \(files.joined(separator: ", "))", status: result.status, stderr: result.stderr)
            }
            made.append(summary.snapshotID)
            manifest.parts.append(
                .init(name: "files", snapshot: summary.snapshotID, bytes: summary.totalBytesProcessed))
            progress(
                "files: \(files.count) folders, \(summary.totalBytesProcessed) bytes (snapshot \(summary.snapshotID))")
            _ = try await streamPart(
                BackupManifest.fileName, from: ["printf", "%s", manifest.encoded()], made: &made,
                extraTags: [BackupManifest.tag])
        } catch {
            await forget(made)
            throw error
        }
        if prune { try await applyRetention() }
        return manifest
    }

    /// `restic init` when the repository does not exist yet (a folder on this server; an sftp one too).
    func ensureRepository() async throws(UserError) {
        let config = try await runner.run(restic.command(["cat", "config"]), timeout: .seconds(120))
        if config.status == 0 { return }
        guard config.stderr.contains("Is there a repository at the following location?") else {
            throw Restic.failure(
                "Opening the repository \(restic.location)", status: config.status, stderr: config.stderr)
        }
        let made = try await runner.run(restic.command(["init"]), timeout: .seconds(300))
        guard made.status == 0 else {
            throw Restic.failure("Creating the repository \(restic.location)", status: made.status, stderr: made.stderr)
        }
        progress(
            "created the restic repository \(restic.location): without BACKUP_PASSWORD no backup in it can be read")
    }

    /// `restic unlock`: a restic killed with its backup (kill -9, a power cut) leaves its lock in the repository,
    /// and the next prune would refuse to start. Only stale locks go (of processes that no longer run here, or
    /// older than 30 minutes); sbs's own run lock keeps any other sbs backup out meanwhile.
    func removeStaleLocks() async throws(UserError) {
        let result = try await runner.run(restic.command(["unlock"]), timeout: .seconds(300))
        guard result.status == 0 else {
            throw Restic.failure(
                "Removing stale locks from \(restic.location)", status: result.status, stderr: result.stderr)
        }
    }

    /// The databases to dump: every one that takes connections, templates aside.
    func databaseNames() async throws(UserError) -> [String] {
        try await Self.databaseNames(project: project, runner: runner)
    }

    /// The databases of the stack's app-db that take connections, templates aside.
    public static func databaseNames(project: ComposeProject, runner: any CommandRunner) async throws(UserError)
        -> [String]
    {
        let query = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
        let result = try await runner.run(
            project.command(["exec", "-T", "app-db", "psql", "-U", "postgres", "-At", "-c", query]),
            timeout: .seconds(120))
        guard result.status == 0 else {
            throw UserError(
                "Listing the databases in app-db failed (exit \(result.status)): \(result.stderr.lastLines(3))",
                remedy:
                    "Check that the stack runs (`sbs verify`), then run `sbs backup` again; earlier snapshots are untouched."
            )
        }
        let names = result.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        for name in names
        where name.isEmpty
            || !name.utf8.allSatisfy({
                (97...122).contains($0) || (65...90).contains($0) || (48...57).contains($0) || $0 == 95 || $0 == 45
            })
        {
            throw UserError(
                "The database '\(name.debugSafe)' has a name sbs does not back up (letters, digits, _ and - only).",
                remedy: "Rename it, or back it up by hand with pg_dump.")
        }
        guard !names.isEmpty else { throw UserError("app-db lists no database to back up.") }
        return names
    }

    /// `producer | restic backup --stdin`: the part's snapshot when both succeeded.
    func streamPart(_ name: String, from producer: [String], made: inout [String], extraTags: [String] = [])
        async throws(UserError) -> BackupManifest.Part
    {
        // The program that failed, by name: the dump inside the container rather than `docker`.
        let producerName = ["pg_dumpall", "pg_dump"].first { producer.contains($0) } ?? producer.first ?? ""
        let consumer = restic.command(
            ["backup", "--json", "--host", host, "--stdin", "--stdin-filename", name]
                + (tags + extraTags).flatMap { ["--tag", $0] })
        let result = try await runner.runPipeline(producer, into: consumer, timeout: Self.partTimeout)
        let summary = ResticBackupSummary.find(in: result.consumer.stdout)
        if let summary { made.append(summary.snapshotID) }
        guard result.producer.status == 0 else {
            throw UserError(
                "Backing up \(name) failed: \(producerName) exited \(result.producer.status): \(result.producer.stderr.lastLines(3))",
                remedy:
                    "Check that the stack's database runs (`sbs verify`), then run `sbs backup` again; earlier snapshots are untouched."
            )
        }
        guard result.consumer.status == 0, let summary else {
            throw Restic.failure("Backing up \(name)", status: result.consumer.status, stderr: result.consumer.stderr)
        }
        progress("\(name): \(summary.totalBytesProcessed) bytes (snapshot \(summary.snapshotID))")
        return .init(name: name, snapshot: summary.snapshotID, bytes: summary.totalBytesProcessed)
    }

    /// Forgets this run's snapshots after a failure (their data goes at the next prune).
    func forget(_ snapshots: [String]) async {
        guard !snapshots.isEmpty else { return }
        let result = try? await runner.run(restic.command(["forget"] + snapshots), timeout: .seconds(600))
        if result?.status == 0 {
            progress("forgot the \(snapshots.count) snapshot(s) of this failed run; earlier ones are untouched")
        } else {
            progress(
                "could not forget this failed run's snapshots \(snapshots.joined(separator: " ")): they carry no manifest and are not listed as backups"
            )
        }
    }

    /// Retention over sbs's snapshots, each part on its own (`--group-by host,paths`), then prune.
    func applyRetention() async throws(UserError) {
        let result = try await runner.run(
            restic.command(
                ["forget", "--prune", "--tag", "sbs", "--host", host, "--group-by", "host,paths"] + keep.arguments),
            timeout: Self.partTimeout)
        guard result.status == 0 else {
            throw Restic.failure(
                "The backup is complete, but removing old snapshots", status: result.status, stderr: result.stderr)
        }
    }
}
