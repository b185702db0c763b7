import ArgumentParser
import Foundation
import Installer
import SBSCore
import StepGraph
import Synchronization
import Wizard

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
        let session = global.session
        let scope = RunScope(command: "install", answersFile: answers.map(absolute), through: through, from: from,
                             skip: skip, interactive: !nonInteractive, sysroot: global.sysroot.map(absolute),
                             assets: global.assets.map(absolute))
        try await Runner(session: session).install(scope: scope)
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue the last run where it stopped, with the same scope and answers."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let base = global.session
        guard let state = try base.store.load() else {
            throw UserError("There is no run to resume under \(base.layout.root).", remedy: "Start one with `sbs install`.")
        }
        var scope = state.scope
        scope.command = "resume"
        // The recorded run's fixture tree and assets, unless given again.
        let session = InstallSession(layout: base.layout, sysroot: global.sysroot.map(absolute) ?? scope.sysroot,
                                     assetsDirectory: global.assets.map(absolute) ?? scope.assets)
        try await Runner(session: session).install(scope: scope)
    }
}

/// The path shared by install and resume: answers, wizard, run, report.
struct Runner {
    let session: InstallSession

    func install(scope: RunScope) async throws {
        // Nothing is written before the answers are complete and valid (and confirmed, when asked).
        _ = try session.graph()
        let answers = try await resolveAnswers(scope: scope)
        let runLog = try RunLog(layout: session.layout, command: scope.command)
        Console.err("Log: \(runLog.path)")

        let ran = Mutex(0)
        let task = Task {
            try await session.run(scope: scope, answers: answers, runLog: runLog) { event in
                if case .succeeded = event { ran.withLock { $0 += 1 } }
                Console.show(event)
            }
        }
        // Again after the wizard, which restores the default actions when it is done.
        Interruption.install()
        Interruption.onSignal {
            Console.err("Interrupting: finishing the state of the running steps…")
            task.cancel()
        }
        let outcome = try await task.value
        switch outcome {
        case .completed:
            let ran = ran.withLock { $0 }
            Console.err("Done\(scope.through.map { " through \($0)" } ?? ""): \(ran) step\(ran == 1 ? "" : "s") ran, the rest were up to date or skipped.")
            Console.err("State: \(session.layout.stateFile)")
        case .failed(let step, let error):
            Console.err("\nStep \(step) failed: \(error)")
            Console.err("Log: \(runLog.path)")
            Console.err("Fix the cause, then run `sbs resume\(rootFlag)` to continue from \(step).")
            throw ExitCode(1)
        case .interrupted(let step):
            Console.err("\nInterrupted\(step.map { " during \($0)" } ?? ""). Nothing finished was lost.")
            Console.err("Run `sbs resume\(rootFlag)` to continue.")
            throw ExitCode(130)
        }
    }

    var rootFlag: String { session.layout.root == "/" ? "" : " --root \(session.layout.root)" }

    func resolveAnswers(scope: RunScope) async throws -> Answers {
        var answers: Answers
        let saved = try session.savedAnswers()
        let stored = storedSecretNames(session.layout)
        if scope.command == "resume" {
            answers = try saved ?? scope.answersFile.map(AnswersFile.load) ?? Answers()
            // Literal secrets are never saved; the original file still holds them.
            if let file = scope.answersFile, let original = try? AnswersFile.load(file) {
                for (name, source) in original.secrets where answers.secrets[name] == nil { answers.secrets[name] = source }
            }
            // A resumed run asks only for what is still missing, and a non-interactive one never asks.
            let missing = Set(answers.missing(storedSecrets: stored))
            answers.given = Set(["domain", "admin_email", "profile", "tls.mode"]).subtracting(missing)
            if missing.isEmpty { return answers }
        } else if let file = scope.answersFile {
            answers = try AnswersFile.load(file)
        } else {
            // Everything is asked, with the previous run's answers already filled in.
            answers = saved ?? Answers()
            answers.given = []
        }
        if scope.interactive {
            let terminal = try EditLineTerminal()
            let detected = answers.given.contains("profile") ? nil : await session.recommendedProfile()
            let wizard = Wizard(terminal: terminal)
            do {
                answers = try withInterruptMessage("\nInterrupted: nothing was changed. Run `sbs install\(rootFlag)` again to start over.\n") {
                    try wizard.complete(answers, given: answers.given, previous: saved, detectedProfile: detected, storedSecrets: stored)
                }
            } catch is Wizard.Declined {
                Console.err("Nothing was changed.")
                throw ExitCode(1)
            }
        }
        let missing = answers.missing(storedSecrets: stored)
        if !missing.isEmpty {
            throw UserError("These answers are missing: \(missing.joined(separator: ", ")).",
                            remedy: "Add them to the answers file (see `sbs answers validate FILE`), or run without --non-interactive to be asked.")
        }
        try checkSecretsResolve(answers)
        return answers
    }

    /// `env:` and `file:` secrets must resolve before anything runs.
    func checkSecretsResolve(_ answers: Answers) throws {
        var problems: [String] = []
        for (name, source) in answers.secrets.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            do { _ = try source.resolve() } catch { problems.append("secrets.\(name.rawValue): \(error.message)") }
        }
        if !problems.isEmpty {
            throw UserError("Some secrets cannot be read:\n  " + problems.joined(separator: "\n  "),
                            remedy: "Set the variables or create the files they name, then run again.")
        }
    }
}
