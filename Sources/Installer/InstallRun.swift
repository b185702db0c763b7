import Backups
import FoundationEssentials
import Host
import SBSCore
import StepGraph
import Synchronization
import Wizard

/// `sbs install` and `sbs resume`: the lock, the answers, the wizard, the checks, the run, and what is said about
/// it. Everything it writes goes through the session's output; signals and the terminal come in as seams.
public struct InstallRun: Sendable {
    public let session: InstallSession
    public let interruptions: any RunInterruptions
    /// Opens the terminal the wizard asks on (only when something must be asked).
    public let terminal: @Sendable () throws -> any Terminal
    /// The run lock when the caller holds it already (`sbs restore` runs the steps under the lock it took); nil:
    /// the run takes it.
    public let heldLock: RunLock?
    /// Whether a failed step's report ends with what to run next (`sbs resume`); not when the run is part of a
    /// command that goes on by itself after a failure (`sbs upgrade` rolls back, then says what to do).
    public var suggestsNextRun = true

    public init(
        session: InstallSession, interruptions: any RunInterruptions = SignalInterruptions(),
        terminal: @escaping @Sendable () throws -> any Terminal = { try EditLineTerminal() }, heldLock: RunLock? = nil
    ) {
        self.session = session
        self.interruptions = interruptions
        self.terminal = terminal
        self.heldLock = heldLock
    }

    /// How a run ended; each ending has been reported through the session's output.
    public enum Ending: Sendable, Equatable {
        /// Every step in scope succeeded, was up to date or skipped; `ran` of them ran.
        case completed(ran: Int)
        case failed(step: String)
        case interrupted(step: String?)
        /// The wizard's summary was not confirmed: nothing was changed.
        case declined

        /// The process's exit status for this ending (see `sbs --help`); a signal's own status (128 + N) replaces
        /// 130 when a signal was the cause.
        public var exitStatus: Int32 {
            switch self {
            case .completed: return 0
            case .failed, .declined: return 1
            case .interrupted: return 130
            }
        }
    }

    /// Continues the run recorded in the state, with its scope and answers, and its fixture tree and assets
    /// unless `sysroot` or `assets` are given again.
    /// - Throws: `UserError` when there is no run to resume, or as `install` does.
    public func resume(sysroot: String?, assets: String?) async throws -> Ending {
        guard let state = try session.store.load() else {
            throw UserError(
                "There is no run to resume under \(session.layout.root).", remedy: "Start one with `sbs install`.")
        }
        var invocation = InstallInvocation(state.scope)
        invocation.command = "resume"
        let resumed = InstallRun(
            session: session.with(sysroot: sysroot ?? invocation.sysroot, assetsDirectory: assets ?? invocation.assets),
            interruptions: interruptions, terminal: terminal)
        return try await resumed.install(scope: state.scope, invocation: invocation)
    }

    /// The path shared by install and resume: lock, answers, wizard, checks, run, report.
    /// - Throws: `UserError` when the run cannot start: answers refused, the lock held by another run, the scope
    ///   naming an unknown step, the state unreadable. Nothing has been changed then.
    public func install(scope: RunScope, invocation: InstallInvocation) async throws -> Ending {
        let output = session.output
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
        let lock = try heldLock ?? RunLock(path: session.layout.lockFile)
        defer { withExtendedLifetime(lock) {} }
        let answers: Answers
        if ask {
            guard let asked = try await askWizard(initial, host: host) else { return .declined }
            answers = asked
        } else {
            answers = initial
        }
        let checked = try session.check(
            answers, host: answers.gpu == initial.gpu ? host : try await session.detectHost(for: answers))
        let runLog = try RunLog(layout: session.layout, command: invocation.command)
        output.err("Log: \(runLog.path)")

        let ran = Mutex(0)
        let task = Task { [session] in
            try await session.run(scope: scope, checked: checked, runLog: runLog) { event in
                if case .succeeded = event { ran.withLock { $0 += 1 } }
                output.show(event)
            }
        }
        // After the wizard, which restores the default signal actions when it is done.
        interruptions.onInterrupt {
            output.err("Interrupting: finishing the state of the running steps…")
            task.cancel()
        }
        switch try await task.value {
        case .completed:
            let ran = ran.withLock { $0 }
            output.err(
                "Done\(scope.through.map { " through \($0)" } ?? ""): \(ran) step\(ran == 1 ? "" : "s") ran, the rest were up to date or skipped."
            )
            output.err("State: \(session.layout.stateFile)")
            // The end of a whole install (not of a `--through` run): where it answers and where its keys are.
            if let graph = try? session.graph(), InstallSummary.coversWholeGraph(scope, graph: graph),
                let state = try? session.store.load()
            {
                // A restore is over once every step has run after its database came back.
                if let restore = try? PendingRestore.load(in: session.layout), restore.databaseRestored {
                    try? PendingRestore.remove(in: session.layout)
                }
                for line in InstallSummary(layout: session.layout, answers: checked.answers, state: state).lines {
                    output.out(line)
                }
            }
            return .completed(ran: ran)
        case .failed(let step, let error):
            // A step's error says what failed and what to fix; the command says what to run next.
            output.err("\nStep \(step) failed: \(error)")
            output.err("Log: \(runLog.path)")
            guard suggestsNextRun else { return .failed(step: step) }
            output.err(
                "Fix the cause, then run `sbs resume\(rootFlag)` to continue from \(step) with the same answers.")
            output.err(
                "If the answers were the cause, run `sbs install\(rootFlag) --answers FIXED.yaml` instead: only the steps the changed answers affect run again."
            )
            return .failed(step: step)
        case .interrupted(let step):
            output.err("\nInterrupted\(step.map { " during \($0)" } ?? ""). Nothing finished was lost.")
            output.err("Run `sbs resume\(rootFlag)` to continue.")
            return .interrupted(step: step)
        }
    }

    /// ` --root DIR` when the installation is not at `/`, for the commands a message suggests.
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
            answers.given = Set(["domain", "admin_email", "profile", "tls.mode", "tls.hsts_include_subdomains"])
                .subtracting(missing)
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
    /// - Returns: the completed answers, or nil when the summary was declined (said so).
    func askWizard(_ answers: Answers, host: HostFacts?) async throws -> Answers? {
        let saved = try session.savedAnswers()
        let stored = session.storedSecretNames(deployDir: saved?.deployDir ?? answers.deployDir)
        let terminal = try terminal()
        let detected = answers.given.contains("profile") ? nil : await session.recommendedProfile()
        let wizard = Wizard(terminal: terminal)
        do {
            return try withInterruptMessage(
                "\nInterrupted: nothing was changed. Run `sbs install\(rootFlag)` again to start over.\n"
            ) {
                try wizard.complete(
                    answers, given: answers.given, previous: saved, detectedProfile: detected, storedSecrets: stored,
                    runsMonitoring: { session.runsMonitoring($0, host: host) })
            }
        } catch is Wizard.Declined {
            session.output.err("Nothing was changed.")
            return nil
        }
    }
}

extension InstallInvocation {
    /// The scope of a run of this invocation (kept in the state, so that `sbs resume` repeats it).
    public func scope(through: String? = nil, from: String? = nil, skip: [String] = []) throws -> RunScope {
        RunScope(through: through, from: from, skip: skip, invocation: try JSONValue(encoding: self))
    }
}
