import Backups
import Deploy
import FoundationEssentials
import Glibc
import Host
import Processes
import SBSCore
import StepGraph
import Wizard

/// `sbs upgrade`: the stack on new images, with a way back. A backup first; then the install's steps with the
/// answers naming the new images (pulled, or loaded from an archive), through `verify`. When a step fails, the
/// previous answers are installed again, so the previous compose file and images come back; when the database's
/// schema changed meanwhile (a new version's migration ran), the rollback also restores the database from the
/// backup made first (step `restore-database`), and says so.
public struct StackUpgrade: Sendable {
    public var session: InstallSession
    public var sbsVersion: String
    /// The fixture tree and assets folder the install's steps run with (as `sbs install` takes them).
    public var sysroot: String?
    public var assets: String?
    /// Upgrade without a backup first (then a failed upgrade cannot restore the database).
    public var skipBackup: Bool

    public init(session: InstallSession, sbsVersion: String, sysroot: String?, assets: String?, skipBackup: Bool) {
        self.session = session
        self.sbsVersion = sbsVersion
        self.sysroot = sysroot
        self.assets = assets
        self.skipBackup = skipBackup
    }

    /// The images to upgrade to: the services named, and an archive to load them from (`docker save`).
    public struct Target: Sendable {
        public var images: [StackService: ImageReference]
        public var archive: String?

        public init(images: [StackService: ImageReference], archive: String?) {
            self.images = images
            self.archive = archive
        }
    }

    /// - Parameter lock: the run lock, held by the caller for both runs.
    /// - Returns: a line saying what changed (nothing, or the upgrade).
    /// - Throws: `UserError` when the upgrade failed (the stack rolled back, or not, as it says), or could not start.
    public func run(to target: Target, lock: RunLock) async throws -> String {
        let layout = session.layout
        let output = session.output
        guard let saved = try session.savedAnswers(), let project = session.installedStack() else {
            throw UserError(
                "There is no installation under \(layout.root) to upgrade.", remedy: "Run `sbs install` first.")
        }
        if saved.target == .swarm {
            throw UserError(
                "sbs upgrade runs a compose stack; this installation is a swarm stack.",
                remedy:
                    "Give the new images in the answers (`images:`) and run `sbs install`: the swarm updates one task at a time and rolls a service back by itself when its new tasks do not turn healthy (README: \"Docker Swarm\")."
            )
        }
        // Secrets the kept answers name by `env:` or `file:` are read from secrets.env, where the install kept
        // them: the runs below need no variable or file of the shell that started the upgrade.
        let before = session.namingKeptSecretsStored(saved)
        var after = before
        after.images.merge(target.images) { $1 }
        if let archive = target.archive { after.imagesArchive = archive }
        let changes = StackService.allCases.compactMap { service in
            before.image(service) == after.image(service)
                ? nil : "\(service.rawValue) \(before.image(service)) → \(after.image(service))"
        }
        guard !changes.isEmpty else { return "The stack already runs these images; nothing to upgrade." }
        if before.backups == .off && !skipBackup {
            throw UserError(
                "Backups are off for this installation: an upgrade whose new version migrates the database could not be rolled back.",
                remedy: "Turn backups on (features.backups), or run `sbs upgrade --skip-backup` to upgrade without one."
            )
        }

        // The answers before and after, kept where the runs read them (0600: they name secrets as `stored`).
        let folder = layout.stateDir + "/upgrade"
        try AtomicFile.makeDirectories(folder, mode: 0o700)
        let previousFile = folder + "/answers-before.yaml"
        let nextFile = folder + "/answers-after.yaml"
        try AtomicFile.write(AnswersFile.render(before), to: previousFile, mode: 0o600)
        try AtomicFile.write(AnswersFile.render(after), to: nextFile, mode: 0o600)

        var safety: (manifest: BackupManifest, restic: Restic)?
        if !skipBackup {
            output.err("sbs upgrade: backing up the installation first")
            let setup = try BackupSetup(session)
            safety = (try await setup.backUp(prune: false, sbsVersion: sbsVersion), setup.restic)
        }
        let runner = SystemCommandRunner()
        let schemaBefore = try await SchemaFingerprint.read(project: project, runner: runner)
        output.err("sbs upgrade: \(changes.joined(separator: ", "))")

        let upgraded = try await install(nextFile, lock: lock)
        switch upgraded {
        case .completed:
            return "Upgraded: \(changes.joined(separator: ", ")); verify passes."
        case .interrupted, .declined:
            throw UserError(
                "The upgrade was interrupted; the stack may run some new images.",
                remedy:
                    "Run `sbs upgrade` again to finish it, or `sbs install --answers \(previousFile)\(rootFlag)` to go back to the previous images."
            )
        case .failed(let step):
            output.err("\nsbs upgrade: the upgrade failed at \(step); going back to the previous images")
            var restored: String?
            let schemaAfter = try? await SchemaFingerprint.read(project: project, runner: runner)
            if schemaAfter != schemaBefore, let safety {
                output.err(
                    "sbs upgrade: the database's schema \(schemaAfter == nil ? "could not be read" : "changed") during the upgrade: it is restored from backup \(safety.manifest.run), made before it (rows written since then are in no backup)"
                )
                // The repository as the backup was made into it: its options and where restic reads its
                // credentials.
                try PendingRestore(
                    run: safety.manifest.run, repository: safety.restic.location, resticOptions: safety.restic.options,
                    resticAccess: safety.restic.access,
                    databaseParts: safety.manifest.parts.filter { $0.name.hasPrefix("db/") },
                    requested: safety.manifest.run, filesRestored: true
                ).save(in: layout)
                restored = safety.manifest.run
            }
            let rolledBack = try await install(previousFile, lock: lock)
            guard case .completed = rolledBack else {
                throw UserError(
                    "The upgrade failed at \(step), and going back to the previous images failed too (see above).",
                    remedy: safety.map {
                        "Fix the cause, then run `sbs install --answers \(previousFile)\(rootFlag)`; `sbs restore \($0.manifest.run) --force\(rootFlag)` brings back the installation as it was before the upgrade."
                    } ?? "Fix the cause, then run `sbs install --answers \(previousFile)\(rootFlag)`.")
            }
            throw UserError(
                "The upgrade failed at \(step) (see above). The stack runs the previous images again\(restored.map { ", its database restored from backup \($0)" } ?? ", its database as it was"), and verify passes.",
                remedy:
                    "Read why the new version failed (its service's log, `docker compose logs SERVICE` in \(project.directory)), then run `sbs upgrade` again once it is fixed."
            )
        }
    }

    func install(_ answersFile: String, lock: RunLock) async throws -> InstallRun.Ending {
        let invocation = InstallInvocation(
            command: "install", answersFile: answersFile, interactive: false, sysroot: sysroot, assets: assets)
        var run = InstallRun(session: session, heldLock: lock)
        run.suggestsNextRun = false  // the upgrade rolls back, then says what to do
        return try await run.install(scope: try invocation.scope(), invocation: invocation)
    }

    var rootFlag: String { session.layout.root == "/" ? "" : " --root \(session.layout.root)" }
}
