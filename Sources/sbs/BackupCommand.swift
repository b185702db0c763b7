import ArgumentParser
import Backups
import Deploy
import FoundationEssentials
import Glibc
import Host
import Installer
import Processes
import Render
import SBSCore
import StepGraph
import Wizard

/// `sbs backup`: an encrypted, deduplicated backup of the installation into its restic repository; `sbs backup
/// list`: the backups there.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the database, the configuration and the certificates into the restic repository.",
        discussion: """
            The database is streamed from the app-db container into restic (pg_dumpall --globals-only, then \
            pg_dump -Fc per database), then /etc/sbs and the deploy folder; old snapshots are removed as \
            backups.keep says. The repository (backups.repository, default /var/backups/sbs/restic) is encrypted \
            with BACKUP_PASSWORD from secrets.env: keep a copy of it away from this server \
            (`sbs secrets show BACKUP_PASSWORD`), or no backup can be read.
            """,
        subcommands: [Create.self, List.self],
        defaultSubcommand: Create.self)

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create", abstract: "Make a backup now (what `sbs backup` alone does).")

        @OptionGroup var global: GlobalOptions

        @OptionGroup var lockWait: LockWaitOption

        @Flag(
            help:
                "Instead of a backup: restic check, then restore the newest backup's databases into scratch databases and compare every table's row count with the live one (exit 1 when one differs)."
        )
        var check = false

        func run() async throws {
            let setup = try BackupSetup(global.session)
            let output = setup.session.output
            let lock = try await RunLock.waiting(
                path: setup.layout.lockFile, atMost: lockWait.duration,
                remedy: "Run `sbs backup` again once the other run ended (the nightly backup runs at its next time).")
            defer { withExtendedLifetime(lock) {} }
            if check { return try await BackupCommand.runCheck(setup) }
            let done = try await setup.backUp(prune: true, sbsVersion: BuildVersion.version)
            output.out(
                "Backup \(done.run) complete: \(done.parts.count) parts\(done.dumpsFrom.map { " (the database's dumps kept from backup \($0))" } ?? ""), \(done.bytesRead) bytes read, in \(setup.restic.location)."
            )
        }
    }

    /// `--check` of `sbs backup`.
    static func runCheck(_ setup: BackupSetup) async throws {
        let output = setup.session.output
        let runner = setup.runner
        guard let newest = try await BackupCatalog(restic: setup.restic, runner: runner).entries().first else {
            throw UserError(
                "There is no backup in \(setup.restic.location) to check.", remedy: "Run `sbs backup` first.")
        }
        output.err("sbs backup: checking backup \(newest.manifest.run) in \(setup.restic.location)")
        let results = try await BackupTrial(
            restic: setup.restic, project: setup.project, runner: runner, progress: { output.err("sbs backup: \($0)") }
        ).run(newest)
        let differing = results.flatMap { result in result.differences.map { "\(result.database): \($0)" } }
        guard differing.isEmpty else {
            throw UserError(
                "Backup \(newest.manifest.run) restores, but \(differing.count) table(s) differ from the live database:\n  "
                    + differing.joined(separator: "\n  "),
                remedy:
                    "Rows written since the backup differ too: run `sbs backup`, then `sbs backup --check` at once; a difference then means the backup misses data."
            )
        }
        output.out(
            "Backup \(newest.manifest.run) restores: \(results.map { "\($0.database) (\($0.summary))" }.joined(separator: ", ")), every table's row count as in the live database."
        )
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the backups in the restic repository.")

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print the manifests as JSON lines.")
        var json = false

        func run() async throws {
            let setup = try BackupSetup(global.session)
            let output = setup.session.output
            let entries = try await BackupCatalog(restic: setup.restic, runner: setup.runner).entries()
            if json {
                for entry in entries { output.out(entry.manifest.encoded()) }
                return
            }
            guard !entries.isEmpty else {
                output.out("No backups in \(setup.restic.location) yet; make one with `sbs backup`.")
                return
            }
            output.out("Backups in \(setup.restic.location), newest first:")
            for entry in entries {
                let manifest = entry.manifest
                output.out(
                    "  \(manifest.run)  \(manifest.bytes) bytes  sbs \(manifest.sbsVersion)  \(manifest.parts.map(\.name).joined(separator: ", "))\(manifest.dumpsFrom.map { "  (database as dumped by \($0))" } ?? "")"
                )
            }
        }
    }
}
