import ArgumentParser
import FoundationEssentials
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
        let invocation = InstallInvocation(command: "install", answersFile: answers.map(absolute), interactive: !nonInteractive,
                                           sysroot: global.sysroot.map(absolute), assets: global.assets.map(absolute))
        let scope = RunScope(through: through, from: from, skip: skip, invocation: try JSONValue(encoding: invocation))
        try await Runner(session: session).install(scope: scope, invocation: invocation)
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
        var invocation = InstallInvocation(state.scope)
        invocation.command = "resume"
        // The recorded run's fixture tree and assets, unless given again.
        let session = InstallSession(layout: base.layout, sysroot: global.sysroot.map(absolute) ?? invocation.sysroot,
                                     assetsDirectory: global.assets.map(absolute) ?? invocation.assets)
        try await Runner(session: session).install(scope: state.scope, invocation: invocation)
    }
}

/// The path shared by install and resume: lock, answers, wizard, checks, run, report.
struct Runner {
    let session: InstallSession

    func install(scope: RunScope, invocation: InstallInvocation) async throws {
        try session.graph().validate(scope)
        // Nothing is written before the answers are complete, checked as the install would check them, and
        // confirmed (when asked). What the answers already say is checked before the lock is taken (all of it when
        // nothing is asked), so that a refused run leaves nothing behind and nobody types answers in vain;
        // questions come only after the lock (as apt takes its lock before asking): a second run on this root is
        // refused at once, not after the first one's answers were given.
        let (initial, ask) = try initialAnswers(invocation)
        // The profile is chosen for this host as choose-profile will, so a GPU or memory the host lacks is refused now.
        let host = try await session.detectHost(for: initial)
        _ = try session.check(initial, complete: !ask, host: host)
        let lock = try RunLock(path: session.layout.lockFile)
        defer { withExtendedLifetime(lock) {} }
        let answers = ask ? try await askWizard(initial, invocation: invocation) : initial
        let checked = try session.check(answers, host: answers.gpu == initial.gpu ? host : try await session.detectHost(for: answers))
        let runLog = try RunLog(layout: session.layout, command: invocation.command)
        Console.err("Log: \(runLog.path)")

        let ran = Mutex(0)
        let task = Task {
            try await session.run(scope: scope, checked: checked, runLog: runLog) { event in
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
            // The end of a whole install (not of a `--through` run): where it answers and where its keys are.
            if let graph = try? session.graph(), InstallSummary.coversWholeGraph(scope, graph: graph),
               let state = try? session.store.load() {
                for line in InstallSummary(layout: session.layout, answers: checked.answers, state: state).lines { Console.out(line) }
            }
        case .failed(let step, let error):
            Console.err("\nStep \(step) failed: \(error)")
            Console.err("Log: \(runLog.path)")
            Console.err("Fix the cause, then run `sbs resume\(rootFlag)` to continue from \(step) with the same answers.")
            Console.err("If the answers were the cause, run `sbs install\(rootFlag) --answers FIXED.yaml` instead: only the steps the changed answers affect run again.")
            throw ExitCode(1)
        case .interrupted(let step):
            Console.err("\nInterrupted\(step.map { " during \($0)" } ?? ""). Nothing finished was lost.")
            Console.err("Run `sbs resume\(rootFlag)` to continue.")
            throw ExitCode(130)
        }
    }

    var rootFlag: String { session.layout.root == "/" ? "" : " --root \(session.layout.root)" }

    /// The answers of this run before any question: the file given, else those kept by the last run (resume);
    /// and whether the wizard must ask for more.
    func initialAnswers(_ invocation: InstallInvocation) throws -> (Answers, ask: Bool) {
        var answers: Answers
        let saved = try session.savedAnswers()
        if invocation.command == "resume" {
            // The kept answers (literal secrets as `stored`), or the original file when the run stopped before
            // collect-answers kept them.
            answers = try saved ?? invocation.answersFile.map(AnswersFile.load) ?? Answers()
            // A resumed run asks only for what is still missing, and a non-interactive one never asks.
            let missing = Set(answers.missing(storedSecrets: session.storedSecretNames(deployDir: answers.deployDir)))
            answers.given = Set(["domain", "admin_email", "profile", "tls.mode"]).subtracting(missing)
            return (answers, invocation.interactive && !missing.isEmpty)
        } else if let file = invocation.answersFile {
            answers = try AnswersFile.load(file)
        } else {
            // Everything is asked, with the previous run's answers already filled in.
            answers = saved ?? Answers()
            answers.given = []
        }
        return (answers, invocation.interactive)
    }

    /// The wizard: asks for what the answers leave open, shows a summary and asks for confirmation.
    func askWizard(_ answers: Answers, invocation: InstallInvocation) async throws -> Answers {
        let saved = try session.savedAnswers()
        let stored = session.storedSecretNames(deployDir: saved?.deployDir ?? answers.deployDir)
        let terminal = try EditLineTerminal()
        let detected = answers.given.contains("profile") ? nil : await session.recommendedProfile()
        let wizard = Wizard(terminal: terminal)
        do {
            return try withInterruptMessage("\nInterrupted: nothing was changed. Run `sbs install\(rootFlag)` again to start over.\n") {
                try wizard.complete(answers, given: answers.given, previous: saved, detectedProfile: detected, storedSecrets: stored)
            }
        } catch is Wizard.Declined {
            Console.err("Nothing was changed.")
            throw ExitCode(1)
        }
    }
}
