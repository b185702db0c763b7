import Deploy
import FoundationEssentials
import Processes
import SBSCore

/// `sbs backup`: the database streamed from the app-db container into restic (`pg_dumpall --globals-only`, then
/// `pg_dump -Fc` per database: never through sbs's memory or an unencrypted file) and, meanwhile, the
/// configuration, the deploy folder and the certificates as one snapshot; then the manifest that makes the run a
/// backup; then retention (`Retention`). When the database has not changed since the previous backup dumped it
/// (`DatabaseState`), that backup's dumps are kept instead of reading the database again. A part that fails fails
/// the run: the snapshots this run made are forgotten again and every older one is left as it was.
public struct BackupJob: Sendable {
    public var restic: Restic
    public var project: ComposeProject
    /// restic's `--host` for every snapshot: the installation's domain (the same on a new server after a restore).
    public var host: String
    /// The folders and files of the `files` part (those that exist).
    public var paths: [String]
    public var manifest: BackupManifest
    public var keep: Retention
    /// The last backup that finished into this repository (`last-backup.json`): its dumps are kept when the
    /// database is in the state they were taken in.
    public var previous: BackupManifest?
    /// Whether the run ends with retention (`forget --prune`); not for the backup `sbs restore` makes of what it
    /// replaces, which must not prune the backup being restored.
    public var prune = true
    public var runner: any PipelineRunner
    public var progress: @Sendable (String) -> Void

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

    static let runTag = "sbs-run:"
    /// On a manifest: a snapshot of an earlier run that the backup uses (a kept dump), by its id as the manifest has it.
    static let usesTag = "sbs-uses:"

    var tags: [String] { ["sbs", Self.runTag + manifest.run, "sbs-version:\(manifest.sbsVersion)"] }

    /// - Returns: the manifest with every part's snapshot.
    /// - Throws: `UserError` naming the part that failed.
    public func run() async throws(UserError) -> BackupManifest {
        // Three things at once, none waiting for another: restic's stale locks removed (the repository created
        // when there is none), the repository's snapshots listed (without a lock: whether the previous backup's
        // dumps are still there, and what retention forgets afterwards), the database's state read.
        let opened = Task { await Self.attempt { () async throws(UserError) in try await self.openRepository() } }
        let listing = Task {
            let listed = await self.listSnapshots()
            guard case .failure = listed else { return listed }
            _ = await opened.value  // the repository created meanwhile: listed again
            return await self.listSnapshots()
        }
        async let files = filesPart(opened: opened)
        let database = await databaseParts(listing: listing, opened: opened)
        let filesOutcome = await files
        var made = database.made + filesOutcome.made
        var manifest = self.manifest
        do throws(UserError) {
            try await opened.value.get()
            let dumps = try database.result.get()
            manifest.parts = dumps.parts + [try filesOutcome.result.get()]
            manifest.databaseState = dumps.state?.text
            manifest.dumpsFrom = dumps.from
            let used = dumps.parts.map(\.snapshot).filter { !made.contains($0) }
            _ = try await streamPart(
                BackupManifest.fileName, from: ["printf", "%s", manifest.encoded()], made: &made,
                extraTags: [BackupManifest.tag] + used.map { Self.usesTag + $0 })
        } catch {
            await forget(made)
            throw error
        }
        if prune { try await applyRetention(await listing.value) }
        return manifest
    }

    static func attempt<T>(_ body: () async throws(UserError) -> T) async -> Result<T, UserError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// The database's parts, with the snapshots made for them (also when one failed: they are forgotten).
    struct DatabaseParts {
        var parts: [BackupManifest.Part]
        var state: DatabaseState?
        /// The backup that dumped them, when they are kept from an earlier one.
        var from: String?
    }

    /// The previous backup's dumps when the database is in the state they were taken in and they are all still in
    /// the repository (`listing`); otherwise the database dumped, once the repository is `opened`.
    func databaseParts(
        listing: Task<Result<[ResticSnapshot], UserError>, Never>, opened: Task<Result<Void, UserError>, Never>
    ) async -> (made: [String], result: Result<DatabaseParts, UserError>) {
        var known: (databases: [String], state: DatabaseState)?
        if let previous, let previousState = previous.databaseState, let databases = previous.dumpedDatabases,
            let state = await DatabaseState.read(databases: databases, project: project, runner: runner)
        {
            // Read: the databases are those the previous backup dumped.
            known = (databases, state)
            if state.text == previousState {
                if case .success(let snapshots) = await listing.value,
                    previous.databaseParts.allSatisfy({ dump in snapshots.contains { $0.isNamed(by: dump.snapshot) } })
                {
                    let from = previous.dumpsFrom ?? previous.run
                    progress(
                        "the database has not changed since backup \(previous.run): its \(previous.databaseParts.count) dumps (of backup \(from)) are kept, not read again"
                    )
                    return ([], .success(DatabaseParts(parts: previous.databaseParts, state: state, from: from)))
                }
                progress(
                    "the database is as backup \(previous.run) dumped it, but its dumps are not all in the repository")
            }
        }
        if case .failure(let error) = await opened.value { return ([], .failure(error)) }
        var made: [String] = []
        do throws(UserError) {
            let databases: [String]
            if let known { databases = known.databases } else { databases = try await databaseNames() }
            progress("databases: \(databases.joined(separator: ", "))")
            // Read before the dumps start: a change made while they run shows at the next backup.
            var state = known?.state
            if state == nil { state = await DatabaseState.read(databases: databases, project: project, runner: runner) }
            var parts = [
                try await streamPart(
                    "db/globals.sql",
                    from: try await project.exec(
                        "app-db", ["pg_dumpall", "-U", "postgres", "--globals-only"], runner: runner),
                    made: &made)
            ]
            for database in databases {
                // Uncompressed (-Z0): restic compresses and deduplicates what it stores, and an unchanged database
                // then dumps to the same chunks; pg_dump's own zlib would cost most of the backup's time every night
                // and hide the unchanged parts from deduplication.
                parts.append(
                    try await streamPart(
                        "db/\(database).dump",
                        from: try await project.exec(
                            "app-db",
                            [
                                "pg_dump", "-Fc", "-U", "postgres", "-d", database, "--compress=0",
                            ], runner: runner),
                        made: &made))
            }
            return (made, .success(DatabaseParts(parts: parts, state: state)))
        } catch {
            return (made, .failure(error))
        }
    }

    /// The configuration, the deploy folder and the certificates (those of `paths` that exist) as one snapshot.
    /// Started without waiting for the repository to be `opened` (restic's start alone takes half a second); when
    /// that first try fails (no repository yet, a stale exclusive lock), it is tried again once it is.
    func filesPart(opened: Task<Result<Void, UserError>, Never>) async -> (
        made: [String], result: Result<BackupManifest.Part, UserError>
    ) {
        let files = paths.filter { AtomicFile.exists($0) }
        var made: [String] = []
        for attempt in 1...2 {
            if attempt == 2, case .failure(let error) = await opened.value { return (made, .failure(error)) }
            let result: CommandResult
            do {
                result = try await runner.run(
                    restic.command(
                        ["backup", "--json", "--host", host] + tags.flatMap { ["--tag", $0] } + ["--"] + files),
                    timeout: Self.partTimeout)
            } catch { return (made, .failure(error)) }
            let summary = ResticBackupSummary.find(in: result.stdout)
            if let summary { made.append(summary.snapshotID) }
            guard result.status == 0, let summary else {
                if attempt == 1 { continue }
                return (
                    made,
                    .failure(
                        Restic.failure(
                            "Backing up \(files.joined(separator: ", "))", status: result.status, stderr: result.stderr)
                    )
                )
            }
            progress(
                "files: \(files.count) folders, \(summary.totalBytesProcessed) bytes (snapshot \(summary.snapshotID))")
            return (
                made, .success(.init(name: "files", snapshot: summary.snapshotID, bytes: summary.totalBytesProcessed))
            )
        }
        return (made, .failure(UserError("Backing up \(files.joined(separator: ", ")) failed.")))
    }

    /// sbs's snapshots of this host, listed without taking restic's lock.
    func listSnapshots() async -> Result<[ResticSnapshot], UserError> {
        do throws(UserError) {
            let listed = try await runner.run(
                restic.command(["snapshots", "--no-lock", "--json", "--tag", "sbs", "--host", host]),
                timeout: .seconds(300))
            guard listed.status == 0 else {
                throw Restic.failure(
                    "Listing the snapshots in \(restic.location)", status: listed.status, stderr: listed.stderr)
            }
            return .success(try ResticSnapshot.list(listed.stdout))
        } catch {
            return .failure(error)
        }
    }

    /// `restic unlock`, or `restic init` when the repository does not exist yet (a folder on this server; an sftp
    /// one too). A restic killed with its backup (kill -9, a power cut) leaves its lock in the repository, and the
    /// next prune would refuse to start: `unlock` removes stale locks only (of processes that no longer run here,
    /// or older than 30 minutes); sbs's own run lock keeps any other sbs backup out meanwhile.
    func openRepository() async throws(UserError) {
        let unlocked = try await runner.run(restic.command(["unlock"]), timeout: .seconds(300))
        if unlocked.status == 0 { return }
        guard unlocked.stderr.contains("Is there a repository at the following location?") else {
            throw Restic.failure(
                "Opening the repository \(restic.location)", status: unlocked.status, stderr: unlocked.stderr)
        }
        let made = try await runner.run(restic.command(["init"]), timeout: .seconds(300))
        guard made.status == 0 else {
            throw Restic.failure("Creating the repository \(restic.location)", status: made.status, stderr: made.stderr)
        }
        progress(
            "created the restic repository \(restic.location): without BACKUP_PASSWORD no backup in it can be read")
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
            try await project.exec("app-db", ["psql", "-U", "postgres", "-At", "-c", query], runner: runner),
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

    /// Retention (`Retention.forgettable`) over the snapshots listed before this run, then `restic forget --prune`
    /// of what it does not keep; nothing when it keeps everything.
    func applyRetention(_ listing: Result<[ResticSnapshot], UserError>) async throws(UserError) {
        let snapshots: [ResticSnapshot]
        do throws(UserError) { snapshots = try listing.get() } catch {
            throw UserError(
                "The backup is complete, but old backups were not removed: \(error.message)", remedy: error.remedy)
        }
        let forgotten = keep.forgettable(snapshots, current: manifest.run, now: Date())
        guard !forgotten.isEmpty else { return }
        let result = try await runner.run(restic.command(["forget", "--prune"] + forgotten), timeout: Self.partTimeout)
        guard result.status == 0 else {
            throw Restic.failure(
                "The backup is complete, but removing old snapshots", status: result.status, stderr: result.stderr)
        }
        progress("retention: \(forgotten.count) snapshot(s) of older backups forgotten and pruned")
    }
}
