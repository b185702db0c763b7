import Backups
import Deploy
import FoundationEssentials
import Processes
import SBSCore
import StepGraph
import Wizard

/// `sbs restore`: a backup put back onto this server or a new one: `/etc/sbs` (answers, secrets, certificates, ACME
/// account) and the deploy folder from the backup's files, then the install's steps, where `restore-database`
/// puts the database into a fresh volume before any service that uses it starts; then the stack comes up and is
/// verified as after an install. An installation that runs here is replaced only when asked to (`force`),
/// confirmed, and backed up first; a restore that was interrupted goes on without asking again.
public struct StackRestore: Sendable {
    public var session: InstallSession
    public var sbsVersion: String
    /// The fixture tree and assets folder the install's steps run with (as `sbs install` takes them).
    public var sysroot: String?
    public var assets: String?
    /// Replace the installation that runs here.
    public var force: Bool
    /// With `force`: do not back up what the restore replaces.
    public var skipBackup: Bool

    public init(
        session: InstallSession, sbsVersion: String, sysroot: String?, assets: String?, force: Bool, skipBackup: Bool
    ) {
        self.session = session
        self.sbsVersion = sbsVersion
        self.sysroot = sysroot
        self.assets = assets
        self.force = force
        self.skipBackup = skipBackup
    }

    /// - Parameters:
    ///   - restic: the repository to restore from, with its password and credentials.
    ///   - backup: the run to restore; nil: the one under way, else the newest.
    ///   - resuming: the restore under way (`PendingRestore`), when it is of this backup.
    ///   - saved: the answers of the installation under the root, if any.
    ///   - lock: the run lock, held by the caller.
    ///   - confirm: asks for the installation's domain before it is replaced; throws when it is not given.
    /// - Returns: the exit status of the install's steps (0: restored and verified).
    /// - Throws: `UserError` when nothing could be restored (no such backup, a wrong password) or a step before
    ///   the install's failed.
    public func run(
        restic: Restic, backup: String?, resuming: PendingRestore?, saved: Answers?, lock: RunLock,
        confirm: (String) throws -> Void
    ) async throws -> Int32 {
        let layout = session.layout
        let output = session.output
        if saved?.target == .swarm {
            throw UserError(
                "sbs restore brings back a compose stack; this installation is a swarm stack.",
                remedy:
                    "Restore onto a server installed with `target: compose` (the backup holds the database and /etc/sbs), then move it to the swarm (README: \"Docker Swarm\")."
            )
        }
        // restic reaches the repository through the office's proxy, when the kept answers or the environment name one.
        let runner = OutboundProxy.with(
            SystemCommandRunner(),
            OutboundProxy.settings(saved ?? Answers(), environment: ProcessInfo.processInfo.environment))
        let location = restic.location
        _ = try await ResticInstallPlan.ensure(
            commands: runner, sysroot: "/", remedy: "run `sbs restore` again",
            progress: { output.err("sbs restore: \($0)") })

        let entries: [BackupCatalog.Entry]
        do { entries = try await BackupCatalog(restic: restic, runner: runner).entries() } catch {
            guard error.message.contains("wrong password") else { throw error }
            throw UserError(
                "The password does not open the repository \(location) (restic: wrong password or no key found); nothing was changed.",
                remedy:
                    "Run `sbs restore` again with the BACKUP_PASSWORD kept away from the old server (typed, or --password-file FILE)."
            )
        }
        let wanted = backup ?? resuming?.run
        guard let entry = wanted.map({ name in entries.first { $0.manifest.run == name } }) ?? entries.first else {
            throw UserError(
                wanted.map { "There is no backup \($0) in \(location)." } ?? "There is no backup in \(location).",
                remedy: "`sbs backup list --root \(layout.root)` (or restic snapshots) lists the backups there.")
        }
        let manifest = entry.manifest
        guard let files = manifest.parts.first(where: { $0.name == "files" }) else {
            throw UserError("Backup \(manifest.run) holds no files part (/etc/sbs and the deploy folder).")
        }
        output.err(
            "sbs restore: backup \(manifest.run) of \(manifest.domain) (sbs \(manifest.sbsVersion)) from \(location)")

        // An installation here is replaced only when asked to, confirmed, and backed up first; a restore that was
        // interrupted goes on without asking again.
        var replaced: String?
        if resuming == nil, let project = try await existingInstallation(saved, runner: runner) {
            let domain = saved?.domain?.value ?? manifest.domain
            guard force else {
                throw UserError(
                    "\(layout.root) holds an installation (\(domain), compose project \(project.name)); a restore would replace its database and configuration.",
                    remedy:
                        "Run `sbs restore --force` to replace it (it asks for the domain and backs it up first), or restore onto a new server."
                )
            }
            try confirm(domain)
            if !skipBackup {
                output.err("sbs restore: backing up the installation it replaces first")
                let setup = try BackupSetup(session)
                let safety = try await setup.backUp(prune: false, sbsVersion: sbsVersion)
                replaced = "\(safety.run) in \(setup.restic.location)"
            }
        }

        var aside: String?
        if resuming?.databaseRestored == true {
            output.err(
                "sbs restore: the database of backup \(manifest.run) is back already; the install's steps finish the restore"
            )
        } else {
            let stamp = RunStamp.make()
            var record = PendingRestore(
                run: manifest.run, repository: location, resticOptions: restic.options, resticAccess: restic.access,
                databaseParts: manifest.parts.filter { $0.name.hasPrefix("db/") }, requested: stamp)
            try record.save(in: layout)
            aside = try await FileRestore(
                layout: layout, restic: restic, runner: runner, previousDeployDir: saved?.deployDir, stamp: stamp,
                progress: { output.err("sbs restore: \($0)") }
            ).run(snapshot: files.snapshot)
            record.filesRestored = true
            try record.save(in: layout)
            output.err(
                "sbs restore: the files are back; the install's steps restore the database and bring the stack up")
        }
        let invocation = InstallInvocation(
            command: "install", answersFile: layout.answersFile, interactive: false, sysroot: sysroot, assets: assets)
        let ending = try await InstallRun(session: session, heldLock: lock)
            .install(scope: try invocation.scope(), invocation: invocation)
        guard ending.exitStatus == 0 else { return ending.exitStatus }
        output.out(
            "Restored backup \(manifest.run) from \(location): the database, /etc/sbs and the deploy folder."
                + (aside.map { " What it replaced is kept in \($0)" } ?? "")
                + (replaced.map { " and in backup \($0)." } ?? (aside == nil ? "" : ".")))
        return 0
    }

    /// The stack's project when an installation lives under the root: kept answers, or a database volume.
    func existingInstallation(_ saved: Answers?, runner: SystemCommandRunner) async throws -> ComposeProject? {
        let project = InstallInputs.project(layout: session.layout, answers: saved)
        if saved != nil { return project }
        let volume = try await runner.run(
            ["docker", "volume", "inspect", project.volume("postgres_data")], timeout: .seconds(60))
        return volume.status == 0 ? project : nil
    }
}
