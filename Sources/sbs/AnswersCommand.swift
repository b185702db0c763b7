import ArgumentParser
import Foundation
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

        @Flag(help: "Also list required answers that are missing (as a --non-interactive install would).")
        var nonInteractive = false

        func run() async throws {
            let answers = try AnswersFile.load(absolute(file))
            if nonInteractive {
                let missing = answers.missing()
                if !missing.isEmpty {
                    throw UserError("\(file): these answers are missing: \(missing.joined(separator: ", ")).")
                }
            }
            Console.out("\(file): valid.")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the answers of the last run as a file for another install.")

        @OptionGroup var global: GlobalOptions

        @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE (0600) instead of standard output.", valueName: "FILE"))
        var output: String?

        @Flag(help: "Include secret values kept in secrets.env (references such as env:NAME are always kept).")
        var includeSecrets = false

        func run() async throws {
            let session = global.session
            guard let answers = try session.savedAnswers() else {
                throw UserError("No answers are kept under \(session.layout.root).", remedy: "Run `sbs install` first.")
            }
            var values: [SecretName: String] = [:]
            if includeSecrets { values = storedSecretValues(session.layout) }
            let text = AnswersFile.render(answers, includeSecrets: includeSecrets, secretValues: values)
            if let output {
                try AtomicFile.write(text, to: absolute(output), mode: 0o600)
                Console.err("Wrote \(output).")
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
    }
}
