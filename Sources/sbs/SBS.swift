import ArgumentParser
import FoundationEssentials
import Glibc
import Installer
import SBSCore

@main
struct SBS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbs",
        abstract: "Installs the Orchestrator-AI Small Business Server.",
        discussion: """
            Exit status: 0 done; 1 a step or command failed (the message says what to do); 64 wrong usage; \
            75 refused because another sbs run holds the lock (try again when it is done); 128+N stopped by \
            signal N: 130 Ctrl-C (SIGINT), 129 SIGHUP (terminal or SSH session closed), 143 SIGTERM. A stopped \
            install keeps its state: `sbs resume` continues it.
            """,
        version: BuildVersion.description,
        subcommands: [
            InstallCommand.self,
            ResumeCommand.self,
            StatusCommand.self,
            PlanCommand.self,
            DetectCommand.self,
            CertCommand.self,
            RenewCommand.self,
            AnswersCommand.self,
            SecretsCommand.self,
            VerifyCommand.self,
            MetricsCommand.self,
            BackupCommand.self,
            RestoreCommand.self,
            MigrateCommand.self,
            UninstallCommand.self,
            UpgradeCommand.self,
            AlertsCommand.self,
        ]
    )

    /// Parses, then runs the command in a task that SIGINT, SIGTERM and SIGHUP cancel; the exit status follows
    /// the table in `--help`.
    static func main() async {
        // A reader that went away (`sbs install | head -n 2`) makes a write fail with EPIPE instead of killing sbs
        // between two writes of its state: the run goes on and ends as it would have (children get the default
        // action back, see SystemCommandRunner).
        signal(SIGPIPE, SIG_IGN)
        Interruption.install()
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        let parsed = ParsedCommand(command)
        let task = Task<Void, any Error> {
            if var asyncCommand = parsed.command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = parsed.command
                try syncCommand.run()
            }
        }
        Interruption.onSignal { task.cancel() }
        let result = await task.result
        if case .failure(let error) = result, let signal = Interruption.received {
            // install and resume print their own message (with `sbs resume`); others say it here.
            if !(error is ExitCode) {
                StandardStreams().err(
                    "\nInterrupted (\(Interruption.name(signal))). Nothing half-written was kept; run the same command again to continue."
                )
            }
            Glibc.exit(128 + signal)
        }
        switch result {
        case .success:
            Glibc.exit(0)
        case .failure(let error as UserError) where error.exitStatus != 1:
            StandardStreams().err("Error: \(error)")
            Glibc.exit(error.exitStatus)
        case .failure(let error):
            exit(withError: error)
        }
    }
}

/// The parsed command, handed to the task that runs it (only that task touches it).
final class ParsedCommand: @unchecked Sendable {
    let command: any ParsableCommand
    init(_ command: any ParsableCommand) { self.command = command }
}
