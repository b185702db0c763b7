import ArgumentParser
import FoundationEssentials
import Installer
import SBSCore
import Wizard

struct AnswersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answers",
        abstract: "Check or export answers files.",
        subcommands: [Validate.self, Export.self]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check an answers file and list every problem.")

        @Argument(help: "The answers file.")
        var file: String

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Also list required answers that are missing (as a --non-interactive install would).")
        var nonInteractive = false

        @Flag(
            help:
                "The answers are for another machine: skip the checks that depend on this host (the profile's memory floor, features.gpu: true needing a usable GPU). The install checks them on its host before it writes anything."
        )
        var anyHost = false

        func run() async throws {
            let answers = try AnswersFile.load(absolute(file))
            let session = global.session
            // The checks of `sbs install`, before it writes anything: secrets read (env:, file:, stored under
            // --root), names and paths the configuration can carry, TLS files that fit, and the profile chosen for
            // this host (validate runs where the install will, unless told --any-host).
            let host = anyHost ? nil : try await session.detectHost(for: answers)
            do { _ = try session.check(answers, complete: nonInteractive, host: host) } catch {
                throw UserError("\(file): \(error.message)", remedy: error.remedy)
            }
            session.output.out(
                "\(file): valid\(anyHost ? " (host-dependent checks skipped: --any-host)" : " for this host").")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the answers of the last run as a file for another install.")

        @OptionGroup var global: GlobalOptions

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp("Write to FILE (0600) instead of standard output.", valueName: "FILE"))
        var output: String?

        @Flag(help: "Include secret values kept in secrets.env (references such as env:NAME are always kept).")
        var includeSecrets = false

        func run() async throws {
            let session = global.session
            guard let answers = try session.savedAnswers() else {
                throw UserError("No answers are kept under \(session.layout.root).", remedy: "Run `sbs install` first.")
            }
            let secrets = session.readable(answers).secrets
            let values = Dictionary(
                uniqueKeysWithValues: AnswerSecret.allCases.compactMap { name in secrets[name].map { (name, $0) } })
            let text = AnswersFile.render(answers, secretValues: includeSecrets ? values : nil)
            if let output {
                try AtomicFile.write(text, to: absolute(output), mode: 0o600)
                session.output.err("Wrote \(output).")
            } else {
                session.output.writeOut(text)
            }
        }
    }
}
