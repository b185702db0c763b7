import Crypto
import FoundationEssentials
import SBSCore

/// What happens to a step in a run (or would, in a plan).
public enum Decision: Sendable, Equatable {
    /// Not part of this run (`--through` leaves it out).
    case outOfScope
    /// Skipped: `--skip`, or its `when` does not hold.
    case skip(String)
    /// Succeeded before with the same inputs.
    case upToDate
    /// Runs, and why.
    case run(String)
    /// Plans only: runs if a step it needs changes its outputs in this run.
    case runIfChanged([String])
}

/// Progress of a run, for the screen.
public enum StepEvent: Sendable {
    /// A step starts, and why (`not done yet`, `inputs changed`, `drift: …`).
    case started(StepDefinition, reason: String)
    case succeeded(StepDefinition, seconds: Double)
    case upToDate(StepDefinition)
    case skipped(StepDefinition, reason: String)
    case failed(StepDefinition, error: String)
    case retrying(StepDefinition, attempt: Int, of: Int, error: String, delay: Duration)
    case progress(step: String, message: String)
}

/// How a run ended.
public enum RunOutcome: Sendable, Equatable {
    case completed
    case failed(step: String, error: String)
    case interrupted(step: String?)
}

/// Runs the steps of a graph in dependency order, independent ones concurrently (bounded), persisting the
/// state after every transition so that a failed or killed run resumes where it stopped.
public struct Executor: Sendable {
    public let graph: Graph
    public let actions: any StepActions
    public let store: StateStore
    public let clock: any Clock<Duration>
    public let maxConcurrent: Int

    public init(
        graph: Graph, actions: any StepActions, store: StateStore,
        clock: any Clock<Duration> = ContinuousClock(), maxConcurrent: Int = 2
    ) {
        self.graph = graph
        self.actions = actions
        self.store = store
        self.clock = clock
        self.maxConcurrent = max(1, maxConcurrent)
    }

    /// The steps this scope covers: `--through X` is X and what it needs.
    public func inScope(_ scope: RunScope) -> Set<String> {
        guard let through = scope.through else { return Set(graph.ids) }
        return graph.closure(of: through)
    }

    /// Steps `--from X` forces to run again: X and its dependents.
    func forced(_ scope: RunScope) -> Set<String> {
        guard let from = scope.from else { return [] }
        return graph.dependents(of: from)
    }

    /// Checks that the scope names existing steps (see `Graph.validate`).
    public func validate(_ scope: RunScope) throws(UserError) {
        try graph.validate(scope)
    }

    /// The outputs of the steps `step` names in `needs:`, as the state holds them now: a step reads nothing of a
    /// step it reaches only through another.
    public func neededOutputs(_ step: StepDefinition, state: RunState) -> NeededOutputs {
        var outputs: [String: (step: String, output: JSONValue?)] = [:]
        for id in step.needs {
            guard let need = graph[id] else { continue }
            let record = state[id]
            outputs[need.action] = (id, record.status == .succeeded ? record.output : nil)
        }
        return NeededOutputs(outputs, reader: step)
    }

    /// Facts for `when:`: the base facts and every succeeded step's output fields as `STEP.FIELD`.
    func facts(_ state: RunState, base: [String: String]) -> [String: String] {
        var facts = base
        for step in graph.steps where state[step.id].status == .succeeded {
            for (key, value) in state[step.id].facts { facts["\(step.id).\(key)"] = value }
        }
        return facts
    }

    /// The products of a succeeded step that are missing or no longer what it wrote, as `PATH missing|changed`.
    public func drift(of record: StepRecord) -> [String] {
        record.products.compactMap { product in
            switch actions.digest(of: ProductFile(product.path, secret: product.secret)) {
            case nil: return "\(product.path) missing"
            case product.digest?: return nil
            case _ where product.digest == RecordedProduct.presence: return nil
            default: return "\(product.path) changed"
            }
        }
    }

    /// The decision for one step whose needs are settled, given the state now; with it, the Input's canonical
    /// encoding and fingerprint when they could be built.
    func decide(
        _ step: StepDefinition, state: RunState, baseFacts: [String: String], scope: RunScope,
        inScope: Set<String>, forced: Set<String>
    ) -> (Decision, input: Data?, fingerprint: String?) {
        if !inScope.contains(step.id) { return (.outOfScope, nil, nil) }
        if scope.skip.contains(step.id) { return (.skip("--skip"), nil, nil) }
        if let when = step.when, !when.holds(in: facts(state, base: baseFacts)) {
            return (.skip("when \(when) is false"), nil, nil)
        }
        let input: Data
        do {
            input = try actions.input(of: step, needs: neededOutputs(step, state: state))
        } catch let error as UserError {
            // Say why (an answer's secret that cannot be read names its variable or file).
            return (.run("inputs not known yet: " + error.message), nil, nil)
        } catch {
            return (.run("inputs not known yet"), nil, nil)
        }
        let fingerprint = fingerprint(step, input: input)
        if forced.contains(step.id) { return (.run("--from \(scope.from ?? step.id)"), input, fingerprint) }
        let record = state[step.id]
        switch record.status {
        case .succeeded where record.fingerprint == fingerprint:
            if actions.catalog.observing.contains(step.action) {
                return (.run("observes the system: runs every time"), input, fingerprint)
            }
            let drift = self.drift(of: record)
            if !drift.isEmpty { return (.run("drift: " + drift.joined(separator: ", ")), input, fingerprint) }
            return (.upToDate, input, fingerprint)
        case .succeeded: return (.run("inputs changed"), input, fingerprint)
        case .running: return (.run("was interrupted"), input, fingerprint)
        case .failed: return (.run("failed before"), input, fingerprint)
        case .pending, .skipped: return (.run("not done yet"), input, fingerprint)
        }
    }

    /// sha256 over the fields of the step definition that change what it does, and the canonical encoding of its
    /// Input: exactly what `run` will receive. Of the needs, those that order the step count (see
    /// `Graph.orderingNeeds`): naming a step it already came after, to read its output, changes the Input when
    /// that output is read, not the step.
    func fingerprint(_ step: StepDefinition, input: Data) -> String {
        var bytes = Data(step.fingerprintText(needs: graph.orderingNeeds(of: step)).utf8)
        bytes.append(0)
        bytes.append(input)
        return "sha256:" + SHA256.hash(data: bytes).hex
    }

    /// What a run with this scope would do, without running anything (it reads product files to find drift).
    /// Outputs are assumed unchanged.
    public func plan(state: RunState, scope: RunScope, baseFacts: [String: String]) -> [(StepDefinition, Decision)] {
        let scopeSet = inScope(scope)
        let forced = self.forced(scope)
        var willRun = Set<String>()
        var result: [(StepDefinition, Decision)] = []
        for step in graph.steps {
            var (decision, _, _) = decide(
                step, state: state, baseFacts: baseFacts, scope: scope,
                inScope: scopeSet, forced: forced)
            let changedNeeds = step.needs.filter(willRun.contains)
            if decision == .upToDate, !changedNeeds.isEmpty { decision = .runIfChanged(changedNeeds) }
            if case .run = decision { willRun.insert(step.id) }
            if case .runIfChanged = decision { willRun.insert(step.id) }
            result.append((step, decision))
        }
        return result
    }

    /// Runs the scope. `report` sees every event; the state file is saved after every transition.
    /// - Throws: `UserError` only when the state cannot be saved; step failures are in the outcome.
    public func run(
        scope: RunScope, baseFacts: [String: String], runLog: RunLog,
        report: @escaping @Sendable (StepEvent) -> Void
    ) async throws(UserError) -> RunOutcome {
        try validate(scope)
        var state = try store.load() ?? RunState()
        state.scope = scope
        state.startedAt = Date()
        state.finishedAt = nil
        state.completed = false
        state.log = runLog.path
        try store.save(state)

        let scopeSet = inScope(scope)
        let forced = self.forced(scope)
        var settled = Set<String>()  // done for this run: succeeded, up to date or skipped
        var started = Set<String>()
        var running: [String: String] = [:]  // id → fingerprint
        var outcome: RunOutcome = .completed

        typealias Result = (id: String, value: StepOutcomeValue?, error: String?, cancelled: Bool)
        await withTaskGroup(of: Result.self) { group in
            func launchReady() {
                guard outcome == .completed, !Task.isCancelled else { return }
                var progressed = true
                while progressed {
                    progressed = false
                    for step in graph.steps where !started.contains(step.id) && scopeSet.contains(step.id) {
                        guard running.count < maxConcurrent else { return }
                        guard step.needs.allSatisfy({ settled.contains($0) || !scopeSet.contains($0) }) else {
                            continue
                        }
                        started.insert(step.id)
                        let (decision, input, fingerprint) = decide(
                            step, state: state, baseFacts: baseFacts, scope: scope,
                            inScope: scopeSet, forced: forced)
                        switch decision {
                        case .outOfScope, .runIfChanged:
                            settled.insert(step.id)
                        case .upToDate:
                            runLog.write("up to date", step: step.id)
                            report(.upToDate(step))
                            settled.insert(step.id)
                            progressed = true
                        case .skip(let reason):
                            var record = state[step.id]
                            record.status = .skipped
                            record.note = reason
                            record.lastError = nil
                            state[step.id] = record
                            saveQuietly(state)
                            runLog.write("skipped: \(reason)", step: step.id)
                            report(.skipped(step, reason: reason))
                            settled.insert(step.id)
                            progressed = true
                        case .run(let reason):
                            var record = state[step.id]
                            record.status = .running
                            record.startedAt = Date()
                            record.finishedAt = nil
                            record.lastError = nil
                            record.note = reason.hasPrefix("drift: ") ? reason : nil
                            record.log = runLog.path
                            state[step.id] = record
                            saveQuietly(state)
                            runLog.write("starting (\(reason))", step: step.id)
                            report(.started(step, reason: reason))
                            running[step.id] = fingerprint ?? ""
                            let needs = neededOutputs(step, state: state)
                            group.addTask {
                                await self.attempt(step, input: input, needs: needs, runLog: runLog, report: report)
                            }
                        }
                    }
                }
            }

            launchReady()
            while let result = await group.next() {
                guard let step = graph[result.id] else { continue }
                let fingerprint = running.removeValue(forKey: result.id)
                var record = state[result.id]
                record.finishedAt = Date()
                if let value = result.value {
                    record.status = .succeeded
                    record.output = value.output
                    record.products = value.products
                    record.fingerprint = fingerprint.flatMap { $0.isEmpty ? nil : $0 }
                    record.note = nil
                    settled.insert(step.id)
                    runLog.write("succeeded", step: step.id)
                    report(.succeeded(step, seconds: record.duration ?? 0))
                } else {
                    let error = result.error ?? "failed"
                    record.status = .failed
                    record.lastError = error
                    if outcome == .completed {
                        outcome = result.cancelled ? .interrupted(step: step.id) : .failed(step: step.id, error: error)
                    }
                    runLog.write("failed: \(error)", step: step.id)
                    report(.failed(step, error: error))
                }
                state[result.id] = record
                saveQuietly(state)
                launchReady()
            }
        }
        if outcome == .completed && Task.isCancelled { outcome = .interrupted(step: nil) }
        if outcome == .completed {
            let unfinished = scopeSet.filter { !settled.contains($0) }
            if !unfinished.isEmpty { outcome = .interrupted(step: nil) }
        }
        state.finishedAt = Date()
        state.completed = outcome == .completed
        try store.save(state)
        return outcome
    }

    /// State saves inside the loop cannot throw out of the task group; a failure there is caught by the
    /// final save, which throws.
    private func saveQuietly(_ state: RunState) {
        try? store.save(state)
    }

    /// Runs one step with its retry policy and timeout. An Input that could not be built before (a needed output
    /// was missing) is built again here, so that the step fails with the reason.
    func attempt(
        _ step: StepDefinition, input: Data?, needs: NeededOutputs, runLog: RunLog,
        report: @escaping @Sendable (StepEvent) -> Void
    ) async -> (id: String, value: StepOutcomeValue?, error: String?, cancelled: Bool) {
        let log = StepLog(step: step.id, runLog: runLog) { id, message in report(.progress(step: id, message: message))
        }
        var attempt = 1
        while true {
            do {
                let bytes = try input ?? actions.input(of: step, needs: needs)
                let value = try await withTimeout(step.timeout, step: step) {
                    try await self.actions.run(step, input: bytes, log: log)
                }
                // An action that returned after an interrupt may have worked with killed helpers: not a success.
                if Task.isCancelled { return (step.id, nil, "interrupted", true) }
                return (step.id, value, nil, false)
            } catch is CancellationError {
                return (step.id, nil, "interrupted", true)
            } catch {
                let message = runLog.redact(String(describing: error))
                if Task.isCancelled { return (step.id, nil, "interrupted", true) }
                guard attempt < step.retry.attempts else { return (step.id, nil, message, false) }
                runLog.write("attempt \(attempt) of \(step.retry.attempts) failed: \(message)", step: step.id)
                report(
                    .retrying(step, attempt: attempt, of: step.retry.attempts, error: message, delay: step.retry.delay))
                do { try await clock.sleep(for: step.retry.delay, tolerance: nil) } catch {
                    return (step.id, nil, "interrupted", true)
                }
                attempt += 1
            }
        }
    }

    func withTimeout(
        _ limit: Duration?, step: StepDefinition,
        _ body: @escaping @Sendable () async throws -> StepOutcomeValue
    ) async throws -> StepOutcomeValue {
        guard let limit else { return try await body() }
        return try await withThrowingTaskGroup(of: StepOutcomeValue?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            guard let outputs = first else {
                throw UserError(
                    "Step '\(step.id)' did not finish within its timeout of \(limit) (\(step.file)).",
                    remedy: "Look at the log for what it was waiting on.")
            }
            return outputs
        }
    }
}
