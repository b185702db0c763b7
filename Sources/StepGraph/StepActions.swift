import SBSCore

/// The code behind the `action:` names of the step files. The installer provides it; tests provide small ones.
public protocol StepActions: Sendable {
    /// Every action name a step may use. Names whose code is not built yet belong here too: running one fails.
    var known: Set<String> { get }

    /// What decides whether a step that succeeded before can be skipped: the answers, assets and facts the
    /// action reads. Secrets appear only as HMACs or as their presence.
    /// - Throws: when the inputs cannot be known yet (for example while planning without answers).
    func inputs(of step: StepDefinition, facts: [String: String]) throws -> [String: String]

    /// Does the step. `facts` holds the answers' facts and the outputs of the steps done so far (keyed
    /// `STEP.KEY`).
    /// - Returns: facts for the dependents (no secrets).
    /// - Throws: `UserError` saying what failed and what to do; `CancellationError` when interrupted.
    func run(_ step: StepDefinition, facts: [String: String], log: StepLog) async throws -> [String: String]
}

/// What a running step writes: into the run's log (secrets redacted) and, for progress, to the person watching.
public struct StepLog: Sendable {
    public let step: String
    public let runLog: RunLog
    let progress: @Sendable (String, String) -> Void

    public init(step: String, runLog: RunLog, progress: @escaping @Sendable (String, String) -> Void = { _, _ in }) {
        self.step = step
        self.runLog = runLog
        self.progress = progress
    }

    /// A line for the log only.
    public func info(_ message: String) {
        runLog.write(message, step: step)
    }

    /// A line for the log and the screen: long work says what it is doing.
    public func progress(_ message: String) {
        runLog.write(message, step: step)
        progress(step, runLog.redact(message))
    }
}
