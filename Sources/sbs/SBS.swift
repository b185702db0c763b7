import ArgumentParser
import SBSCore

@main
struct SBS: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "sbs",
        abstract: "Installs the Orchestrator-AI Small Business Server.",
        version: version,
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
        ]
    )
}
