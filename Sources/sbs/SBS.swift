import ArgumentParser
import SBSCore

@main
struct SBS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbs",
        abstract: "Installs the Orchestrator-AI Small Business Server.",
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
        ]
    )
}
