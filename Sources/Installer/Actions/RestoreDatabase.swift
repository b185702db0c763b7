import Backups
import Deploy
import FoundationEssentials
import Processes
import SBSCore
import StepGraph

/// `restore-database`: while `sbs restore` runs (`/var/lib/sbs/restore.json` names a backup whose files are back),
/// the database of that backup goes into a fresh volume before any service that uses it starts: the stack is
/// stopped, its database volume removed, app-db started alone on a new one, and the roles and every database
/// restored from the repository (see `DatabaseRestore`); the restore record then says so. Without a restore under
/// way it does nothing.
struct RestoreDatabase: StepAction {
    static let name = "restore-database"
    let tools: InstallTools
    var deadline: Duration = .seconds(300)

    struct Input: Codable, Hashable, Sendable {
        var stack: StackSource
        var configs: WriteConfigs.Output
        var root: String
        /// The restore under way, nil when there is none.
        var pending: PendingRestore?
        var restic: Restic?
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        let pending = try PendingRestore.load(in: context.layout).flatMap {
            $0.filesRestored && !$0.databaseRestored ? $0 : nil
        }
        return Input(
            stack: try StackSource(context, needs: needs), configs: try needs.output(of: WriteConfigs.self),
            root: context.layout.root, pending: pending,
            restic: try pending.map { pending throws(UserError) in
                try Restic(
                    location: pending.repository,
                    passwordCommand: [
                        context.executable, "secrets", "show", "BACKUP_PASSWORD", "--root", context.layout.root,
                    ], cacheDirectory: context.layout.stateDir + "/restic-cache", options: pending.resticOptions,
                    access: pending.resticAccess)
            })
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Nothing> {
        guard let pending = input.pending, let restic = input.restic else {
            log.progress("no restore under way")
            return StepResult()
        }
        guard let pipelines = tools.pipelines else {
            throw UserError("Internal error: this run cannot connect restic to the database (no pipeline runner).")
        }
        let project = input.stack.project
        let driver = input.stack.driver(tools, log: log)
        try await input.stack.ensureImages(driver, tools: tools)
        log.progress(
            "restoring backup \(pending.run) from \(pending.repository): the stack stops, the database starts over on a fresh volume"
        )
        let down = try await tools.commands.run(project.command(["down", "--remove-orphans"]), timeout: .seconds(300))
        guard down.status == 0 else {
            throw UserError(
                "`docker compose down` failed (exit \(down.status)): \(down.stderr.lastLines(3))",
                remedy: "Check the Docker engine (`docker info`).")
        }
        let volume = project.volume("postgres_data")
        let removed = try await tools.commands.run(
            ["docker", "volume", "rm", "--force", volume], timeout: .seconds(120))
        guard removed.status == 0 else {
            throw UserError(
                "Removing the database volume \(volume) failed (exit \(removed.status)): \(removed.stderr.lastLines(3))",
                remedy:
                    "Remove it by hand (`docker volume rm \(volume)`: the backup holds its data)."
            )
        }
        try await driver.up(["app-db"], noDeps: true, deadline: deadline)
        let results = try await DatabaseRestore(
            restic: restic, project: project, parts: pending.databaseParts, runner: pipelines,
            progress: { log.progress($0) }
        ).run()
        var done = pending
        done.databaseRestored = true
        try done.save(in: Layout(root: input.root))
        log.progress(
            "the database of backup \(pending.run) is back: \(results.map { "\($0.database) (\($0.summary))" }.joined(separator: ", "))"
        )
        return StepResult()
    }
}
