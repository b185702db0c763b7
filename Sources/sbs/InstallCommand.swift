import ArgumentParser
import FoundationEssentials
import Installer
import SBSCore

struct InstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install the server: ask what is missing, then run the steps."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Take answers from FILE (YAML, version: 1).", valueName: "FILE"))
    var answers: String?

    @Flag(help: "Never ask: fail with the list of missing answers instead.")
    var nonInteractive = false

    @Option(help: ArgumentHelp("Run STEP and what it needs, nothing after it.", valueName: "STEP"))
    var through: String?

    @Option(help: ArgumentHelp("Run STEP and everything after it again, even if up to date.", valueName: "STEP"))
    var from: String?

    @Option(help: ArgumentHelp("Do not run STEP (repeatable); steps after it go on.", valueName: "STEP"))
    var skip: [String] = []

    func run() async throws {
        let invocation = InstallInvocation(
            command: "install", answersFile: answers.map(absolute), interactive: !nonInteractive,
            sysroot: global.sysroot.map(absolute), assets: global.assets.map(absolute))
        let ending = try await InstallRun(session: global.session)
            .install(scope: try invocation.scope(through: through, from: from, skip: skip), invocation: invocation)
        if ending.exitStatus != 0 { throw ExitCode(ending.exitStatus) }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue the last run where it stopped, with the same scope and answers."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let ending = try await InstallRun(session: global.session)
            .resume(sysroot: global.sysroot.map(absolute), assets: global.assets.map(absolute))
        if ending.exitStatus != 0 { throw ExitCode(ending.exitStatus) }
    }
}
