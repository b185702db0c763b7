import Foundation
import SBSCore
import Synchronization
import TestSupport
import Testing

@testable import StepGraph

/// Actions whose inputs, outputs and products the test sets, recording what ran and with which Input. Each step
/// runs the action named like it; an action the test did not declare fails the run (fail closed). As real actions
/// do, a step's Input holds the outputs of the steps it needs.
final class RecordingActions: StepActions, @unchecked Sendable {
    let lock = NSLock()
    var inputsByStep: [String: [String: String]] = [:]
    var outputsByStep: [String: [String: String]] = [:]
    var productsByStep: [String: [String]] = [:]
    var failures: [String: Int] = [:]  // step → how many more times it fails
    var ran: [String] = []
    var receivedInputs: [String: Data] = [:]
    let names: Set<String>
    var observing: Set<String> = []

    init(known: Set<String>) { self.names = known }

    var catalog: ActionCatalog {
        lock.withLock {
            ActionCatalog(actions: Dictionary(uniqueKeysWithValues: names.map { ($0, ["port"]) }), observing: observing)
        }
    }

    struct Input: Codable {
        var own: [String: String]
        var needs: [String: JSONValue]
    }

    func input(of step: StepDefinition, needs: NeededOutputs) throws -> Data {
        guard names.contains(step.action) else { throw UserError("undeclared action \(step.action)") }
        var needed: [String: JSONValue] = [:]
        for (_, entry) in needs.outputs { needed[entry.step] = entry.output ?? .null }
        return try JSONValue.canonicalEncoder.encode(
            Input(own: lock.withLock { inputsByStep[step.id] ?? [:] }, needs: needed))
    }

    func run(_ step: StepDefinition, input: Data, log: StepLog) async throws -> StepOutcomeValue {
        try lock.withLock {
            ran.append(step.id)
            receivedInputs[step.id] = input
            if let remaining = failures[step.id], remaining > 0 {
                failures[step.id] = remaining - 1
                throw UserError("\(step.id) broke")
            }
            let products = try (productsByStep[step.id] ?? []).map { path in
                guard let digest = digest(of: ProductFile(path)) else { throw UserError("\(path) was not written") }
                return RecordedProduct(path: path, secret: false, digest: digest)
            }
            return StepOutcomeValue(output: try JSONValue(encoding: outputsByStep[step.id] ?? [:]), products: products)
        }
    }

    func digest(of product: ProductFile) -> String? {
        FileManager.default.contents(atPath: product.path).map { "bytes:" + $0.base64EncodedString() }
    }

    func takeRan() -> [String] {
        lock.withLock {
            defer { ran = [] }
            return ran
        }
    }
}

func temporaryDirectory() -> String {
    let path = Scratch.path("test")
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let diamondActions: Set<String> = ["a", "b", "c", "d", "e"]

/// a → b → d, a → c → d, and e alone; each step runs the action of its own name.
func diamond() throws -> Graph {
    try Graph(
        [
            StepDefinition(id: "a", title: "A", action: "a"),
            StepDefinition(id: "b", title: "B", needs: ["a"], action: "b"),
            StepDefinition(id: "c", title: "C", needs: ["a"], action: "c"),
            StepDefinition(id: "d", title: "D", needs: ["b", "c"], action: "d"),
            StepDefinition(id: "e", title: "E", action: "e"),
        ], knownActions: diamondActions)
}

@Suite struct ExecutorRuns {
    let dir = temporaryDirectory()
    var store: StateStore { StateStore(path: dir + "/state.json") }

    func run(_ executor: Executor, _ scope: RunScope = RunScope()) async throws -> RunOutcome {
        try await executor.run(scope: scope, baseFacts: [:], runLog: RunLog(), report: { _ in })
    }

    @Test func runsEverythingOnceThenSkipsEverything() async throws {
        let actions = RecordingActions(known: diamondActions)
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        #expect(try await run(executor) == .completed)
        #expect(Set(actions.takeRan()) == ["a", "b", "c", "d", "e"])
        #expect(try await run(executor) == .completed)
        #expect(actions.takeRan().isEmpty)
        let state = try #require(try store.load())
        #expect(state.steps.values.allSatisfy { $0.status == .succeeded })
        #expect(state.completed)
    }

    @Test func aChangedInputRerunsTheStepAndOnlyDependentsWhoseInputsChanged() async throws {
        let actions = RecordingActions(known: diamondActions)
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        actions.outputsByStep["b"] = ["port": "80"]
        _ = try await run(executor)
        _ = actions.takeRan()

        // b's own input changes but its outputs stay the same: only b runs.
        actions.inputsByStep["b"] = ["answer": "1"]
        #expect(try await run(executor) == .completed)
        #expect(actions.takeRan() == ["b"])

        // b's outputs change: d, which needs b, runs too; a, c and e do not.
        actions.inputsByStep["b"] = ["answer": "2"]
        actions.outputsByStep["b"] = ["port": "8080"]
        _ = try await run(executor)
        #expect(actions.takeRan() == ["b", "d"])
    }

    @Test func throughRunsTheStepAndItsNeedsOnly() async throws {
        let actions = RecordingActions(known: diamondActions)
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        #expect(try await run(executor, RunScope(through: "b")) == .completed)
        #expect(Set(actions.takeRan()) == ["a", "b"])
        #expect(try store.load()?["d"].status == .pending)
    }

    @Test func fromForcesTheStepAndItsDependents() async throws {
        let actions = RecordingActions(known: diamondActions)
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor)
        _ = actions.takeRan()
        _ = try await run(executor, RunScope(from: "c"))
        #expect(actions.takeRan() == ["c", "d"])
    }

    @Test func skipLeavesTheStepOutAndGoesOn() async throws {
        let actions = RecordingActions(known: diamondActions)
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor, RunScope(skip: ["c"]))
        #expect(!actions.takeRan().contains("c"))
        let state = try #require(try store.load())
        #expect(state["c"].status == .skipped)
        #expect(state["c"].note == "--skip")
        #expect(state["d"].status == .succeeded)
    }

    @Test func aFailureStopsDependentsAndIsResumedWhereItFailed() async throws {
        let actions = RecordingActions(known: diamondActions)
        actions.failures["b"] = 1
        let executor = Executor(graph: try diamond(), actions: actions, store: store, maxConcurrent: 1)
        let outcome = try await run(executor)
        #expect(outcome == .failed(step: "b", error: "b broke"))
        let ranFirst = actions.takeRan()
        #expect(!ranFirst.contains("d"))
        let failed = try #require(try store.load())
        #expect(failed["b"].status == .failed)
        #expect(failed["b"].lastError == "b broke")
        #expect(!failed.completed)

        #expect(try await run(executor) == .completed)
        let ranSecond = actions.takeRan()
        #expect(ranSecond.first == "b")
        #expect(!ranSecond.contains("a"))
        #expect(ranSecond.contains("d"))
    }

    @Test func aStepFoundRunningWasInterruptedAndRunsAgain() async throws {
        let actions = RecordingActions(known: diamondActions)
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor)
        _ = actions.takeRan()
        var state = try #require(try store.load())
        state["c"].status = .running  // as a kill -9 leaves it
        try store.save(state)
        _ = try await run(executor)
        #expect(actions.takeRan() == ["c"])
    }

    @Test func retriesWaitOnTheInjectedClock() async throws {
        let graph = try Graph(
            [StepDefinition(id: "a", title: "A", action: "a", retry: RetryPolicy(attempts: 3, delay: .seconds(3600)))],
            knownActions: ["a"])
        let actions = RecordingActions(known: ["a"])
        actions.failures["a"] = 2
        let events = Mutex<[String]>([])
        let executor = Executor(graph: graph, actions: actions, store: store, clock: ImmediateClock())
        let outcome = try await executor.run(scope: RunScope(), baseFacts: [:], runLog: RunLog()) { event in
            if case .retrying(_, let attempt, _, _, let delay) = event {
                events.withLock { $0.append("retry \(attempt) after \(delay)") }
            }
        }
        #expect(outcome == .completed)
        #expect(actions.takeRan() == ["a", "a", "a"])
        #expect(events.withLock { $0 } == ["retry 1 after 3600.0 seconds", "retry 2 after 3600.0 seconds"])
    }

    @Test func whenFalseSkipsWithTheReason() async throws {
        let graph = try Graph(
            [StepDefinition(id: "a", title: "A", action: "a", when: try Condition(parsing: "features.gpu"))],
            knownActions: ["a"], baseFacts: ["features.gpu"])
        let actions = RecordingActions(known: ["a"])
        let executor = Executor(graph: graph, actions: actions, store: store)
        _ = try await executor.run(
            scope: RunScope(), baseFacts: ["features.gpu": "false"], runLog: RunLog(), report: { _ in })
        #expect(actions.takeRan().isEmpty)
        #expect(try store.load()?["a"].note == "when features.gpu is false")
        _ = try await executor.run(
            scope: RunScope(), baseFacts: ["features.gpu": "true"], runLog: RunLog(), report: { _ in })
        #expect(actions.takeRan() == ["a"])
    }

    @Test func aTimeoutFailsTheStepWithAMessage() async throws {
        struct Slow: StepActions {
            var catalog: ActionCatalog { ActionCatalog(names: ["x"]) }
            func input(of step: StepDefinition, needs: NeededOutputs) throws -> Data { Data("{}".utf8) }
            func run(_ step: StepDefinition, input: Data, log: StepLog) async throws -> StepOutcomeValue {
                try await Task.sleep(for: .seconds(30))
                return StepOutcomeValue(output: .null)
            }
            func digest(of product: ProductFile) -> String? { nil }
        }
        let graph = try Graph(
            [StepDefinition(id: "a", title: "A", action: "x", timeout: .milliseconds(50))], knownActions: ["x"])
        let outcome = try await Executor(graph: graph, actions: Slow(), store: store).run(
            scope: RunScope(), baseFacts: [:], runLog: RunLog(), report: { _ in })
        guard case .failed(let step, let error) = outcome else {
            Issue.record("not failed: \(outcome)")
            return
        }
        #expect(step == "a")
        #expect(error.contains("did not finish within its timeout"))
    }

    @Test func runReceivesExactlyTheInputThatWasFingerprinted() async throws {
        let actions = RecordingActions(known: diamondActions)
        actions.inputsByStep["b"] = ["answer": "42"]
        actions.outputsByStep["a"] = ["port": "80"]
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor)
        let state = try #require(try store.load())
        let needs = executor.neededOutputs(try #require(executor.graph["b"]), state: state)
        let built = try actions.input(of: try #require(executor.graph["b"]), needs: needs)
        #expect(actions.lock.withLock { actions.receivedInputs["b"] } == built)
        #expect(state["b"].fingerprint == executor.fingerprint(try #require(executor.graph["b"]), input: built))
        #expect(state["a"].output == .object(["port": .string("80")]))
    }

    @Test func aMissingOrChangedProductRerunsTheStepAndSaysWhichFile() async throws {
        let actions = RecordingActions(known: diamondActions)
        let product = dir + "/out.conf"
        try "v1".write(toFile: product, atomically: true, encoding: .utf8)
        actions.productsByStep["c"] = [product]
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor)
        _ = actions.takeRan()
        #expect(try await run(executor) == .completed)
        #expect(actions.takeRan().isEmpty, "an untouched product is up to date")

        try "edited by hand".write(toFile: product, atomically: true, encoding: .utf8)
        #expect(executor.drift(of: try #require(try store.load())["c"]) == ["\(product) changed"])
        let reasons = Mutex<[String: String]>([:])
        let events: @Sendable (StepEvent) -> Void = { event in
            if case .started(let step, let reason) = event { reasons.withLock { $0[step.id] = reason } }
        }
        _ = try await executor.run(scope: RunScope(), baseFacts: [:], runLog: RunLog(), report: events)
        // c's outputs are unchanged, so d (which needs c) stays up to date.
        #expect(actions.takeRan() == ["c"])
        #expect(reasons.withLock { $0["c"] } == "drift: \(product) changed")

        try FileManager.default.removeItem(atPath: product)
        let plan = executor.plan(state: try #require(try store.load()), scope: RunScope(), baseFacts: [:])
        #expect(plan.first { $0.0.id == "c" }?.1 == .run("drift: \(product) missing"))
        actions.productsByStep["c"] = []  // this time the step does not write it again
        _ = try await executor.run(scope: RunScope(), baseFacts: [:], runLog: RunLog(), report: events)
        #expect(reasons.withLock { $0["c"] } == "drift: \(product) missing")
        #expect(try store.load()?["c"].products.isEmpty == true)
    }

    @Test func anObservingStepRunsEveryTimeAndItsDependentsOnlyWhenItsOutputChanges() async throws {
        let actions = RecordingActions(known: diamondActions)
        actions.observing = ["a"]
        actions.outputsByStep["a"] = ["port": "80"]
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor)
        _ = actions.takeRan()
        _ = try await run(executor)
        #expect(actions.takeRan() == ["a"])
        actions.outputsByStep["a"] = ["port": "8080"]  // the host changed
        _ = try await run(executor)
        // b and c read a and run again; d reads b and c (not a, which it does not name), whose outputs are the same.
        #expect(Set(actions.takeRan()) == ["a", "b", "c"])
    }

    @Test func whenReadsTheOutputsOfNeededSteps() async throws {
        let graph = try Graph(
            [
                StepDefinition(id: "a", title: "A", action: "a"),
                StepDefinition(
                    id: "b", title: "B", needs: ["a"], action: "b", when: try Condition(parsing: "a.port == 80")),
            ], catalog: ActionCatalog(actions: ["a": ["port"], "b": []]))
        let actions = RecordingActions(known: ["a", "b"])
        actions.outputsByStep["a"] = ["port": "8080"]
        let executor = Executor(graph: graph, actions: actions, store: store)
        _ = try await run(executor)
        #expect(actions.takeRan() == ["a"])
        #expect(try store.load()?["b"].note == "when a.port == 80 is false")
        actions.outputsByStep["a"] = ["port": "80"]
        actions.inputsByStep["a"] = ["changed": "yes"]
        _ = try await run(executor)
        #expect(actions.takeRan() == ["a", "b"])
    }

    @Test func planShowsWhatWouldRunWithoutRunning() async throws {
        let actions = RecordingActions(known: diamondActions)
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor)
        _ = actions.takeRan()
        actions.inputsByStep["b"] = ["answer": "changed"]
        let plan = executor.plan(state: try #require(try store.load()), scope: RunScope(), baseFacts: [:])
        let decisions = Dictionary(uniqueKeysWithValues: plan.map { ($0.0.id, $0.1) })
        #expect(decisions["a"] == .upToDate)
        #expect(decisions["b"] == .run("inputs changed"))
        #expect(decisions["d"] == .runIfChanged(["b"]))
        #expect(actions.takeRan().isEmpty)
    }

    @Test func unknownStepsInTheScopeAreRefused() throws {
        let executor = Executor(graph: try diamond(), actions: RecordingActions(known: diamondActions), store: store)
        #expect(throws: UserError.self) { try executor.validate(RunScope(through: "nope")) }
    }
}

@Suite struct StateFiles {
    @Test func stateIsWrittenWholeWithNoTemporaryFileLeft() throws {
        let dir = temporaryDirectory()
        let store = StateStore(path: dir + "/lib/state.json")
        var state = RunState()
        state["a"].status = .succeeded
        state["a"].output = .object(["k": .string("v")])
        try store.save(state)
        state["a"].status = .failed
        try store.save(state)
        #expect(try store.load() == state)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/lib") == ["state.json"])
    }

    @Test func aReaderNeverSeesAHalfWrittenState() async throws {
        let dir = temporaryDirectory()
        let store = StateStore(path: dir + "/state.json")
        var state = RunState()
        // Large enough that a plain rewrite would be seen half-done now and then.
        for index in 0..<400 {
            state["step-\(index)"].output = .object(["value": .string(String(repeating: "x", count: 200))])
        }
        try store.save(state)
        let writer = Task.detached {
            for round in 0..<60 {
                var next = state
                next["step-0"].note = "round \(round)"
                try store.save(next)
            }
        }
        for _ in 0..<200 {
            let loaded = try store.load()  // throws "is damaged" on a torn read
            #expect(loaded?.steps.count == 400)
            await Task.yield()
        }
        try await writer.value
        #expect(try store.load()?["step-0"].note == "round 59")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["state.json"])
    }

    @Test func aDamagedStateFileSaysWhatToDo() throws {
        let dir = temporaryDirectory()
        try "{not json".write(toFile: dir + "/state.json", atomically: true, encoding: .utf8)
        #expect { try StateStore(path: dir + "/state.json").load() } throws: { error in
            (error as? UserError)?.message.hasSuffix("is damaged: it is not valid JSON.") == true
        }
        // A field of the wrong type is named by its path, not dumped as a DecodingError.
        try #"{"schema": 2, "steps": {"preflight": {"status": "done"}}, "scope": {}, "completed": false}"#
            .write(toFile: dir + "/state.json", atomically: true, encoding: .utf8)
        #expect { try StateStore(path: dir + "/state.json").load() } throws: { error in
            let message = (error as? UserError)?.message ?? ""
            return message.contains("'steps.preflight.status'") && !message.contains("DecodingError")
                && !message.contains("codingPath")
        }
    }

    @Test func aSecondLockIsRefusedNamingTheHolder() throws {
        let dir = temporaryDirectory()
        let first = try RunLock(path: dir + "/lock")
        #expect { try RunLock(path: dir + "/lock") } throws: { error in
            (error as? UserError)?.message.contains("pid \(getpid())") == true
        }
        withExtendedLifetime(first) {}
    }
}

/// Typed actions for the rule that a step reads only the steps it names: `a` finds a port, `b` passes, `c` reads
/// the port of `a`.
struct FindsPort: StepAction {
    static let name = "a"
    struct Output: Codable, Hashable, Sendable { var port: String }
    func input(_ context: Nothing, needs: NeededOutputs) throws -> Nothing { Nothing() }
    func run(_ input: Nothing, log: StepLog) async throws -> StepResult<Output> { StepResult(Output(port: "80")) }
}

struct Passes: StepAction {
    static let name = "b"
    func input(_ context: Nothing, needs: NeededOutputs) throws -> Nothing { Nothing() }
    func run(_ input: Nothing, log: StepLog) async throws -> StepResult<Nothing> { StepResult() }
}

struct ReadsPort: StepAction {
    static let name = "c"
    struct Input: Codable, Hashable, Sendable { var port: String }
    func input(_ context: Nothing, needs: NeededOutputs) throws -> Input {
        Input(port: try needs.output(of: FindsPort.self).port)
    }
    func run(_ input: Input, log: StepLog) async throws -> StepResult<Nothing> { StepResult() }
}

@Suite struct StepsReadOnlyTheStepsTheyName {
    let dir = temporaryDirectory()
    var store: StateStore { StateStore(path: dir + "/state.json") }

    /// a → b → c, with c naming `cNeeds`.
    func chain(_ cNeeds: [String]) throws -> Graph {
        try Graph(
            [
                StepDefinition(id: "a", title: "A", action: "a", file: "steps/a.yaml", lines: ["id": 1]),
                StepDefinition(
                    id: "b", title: "B", needs: ["a"], action: "b", file: "steps/b.yaml", lines: ["id": 1, "needs": 3]),
                StepDefinition(
                    id: "c", title: "C", needs: cNeeds, action: "c", file: "steps/c.yaml", lines: ["id": 1, "needs": 3]),
            ], knownActions: ["a", "b", "c"])
    }

    var table: ActionTable<Nothing> {
        var table = ActionTable(context: Nothing(), baseFacts: [], digester: { _ in nil })
        table.register(FindsPort())
        table.register(Passes())
        table.register(ReadsPort())
        return table
    }

    @Test func theNeededOutputsAreThoseOfTheNamedStepsAlone() throws {
        let executor = Executor(graph: try diamond(), actions: RecordingActions(known: diamondActions), store: store)
        var state = RunState()
        for id in diamondActions {
            state[id].status = .succeeded
            state[id].output = .object(["port": .string(id)])
        }
        let needs = executor.neededOutputs(try #require(executor.graph["d"]), state: state)
        #expect(Set(needs.outputs.values.map(\.step)) == ["b", "c"], "d needs b and c, and a only through them")
        #expect(try needs.output(of: Passes.self) == Nothing())
        #expect(throws: UserError.self) { try needs.output(of: FindsPort.self) }
        // A read of a step that is not named is refused even where a missing output would read as nil.
        #expect(throws: UserError.self) { try needs.optionalOutput(of: FindsPort.self) }
        state["b"].status = .skipped
        #expect(
            try executor.neededOutputs(try #require(executor.graph["d"]), state: state).optionalOutput(of: Passes.self)
                == nil)
    }

    @Test func aStepThatReadsAStepItDoesNotNameFailsSayingWhichAndWhere() async throws {
        let executor = Executor(graph: try chain(["b"]), actions: table, store: store)
        let outcome = try await executor.run(scope: RunScope(), baseFacts: [:], runLog: RunLog(), report: { _ in })
        guard case .failed(let step, let error) = outcome else {
            Issue.record("not failed: \(outcome)")
            return
        }
        #expect(step == "c")
        #expect(
            error.contains(
                "Internal error: step 'c' reads the output of 'a', which is not in its needs (its needs: [b])"),
            "\(error)")
        #expect(error.contains("add the step that runs a to `needs:` in steps/c.yaml:3"), "\(error)")
    }

    @Test func namingTheStepLetsItReadIt() async throws {
        let executor = Executor(graph: try chain(["b", "a"]), actions: table, store: store)
        #expect(
            try await executor.run(scope: RunScope(), baseFacts: [:], runLog: RunLog(), report: { _ in }) == .completed)
        let state = try #require(try store.load())
        let c = try #require(executor.graph["c"])
        let input = try table.input(of: c, needs: executor.neededOutputs(c, state: state))
        #expect(String(decoding: input, as: UTF8.self) == #"{"port":"80"}"#)
    }

    @Test func aNeedAlsoReachedThroughAnotherLeavesOrderAndFingerprintAsTheyWere() throws {
        let input = Data(#"{"port":"80"}"#.utf8)
        let before = Executor(graph: try chain(["b"]), actions: table, store: store)
        let after = Executor(graph: try chain(["b", "a"]), actions: table, store: store)
        #expect(before.graph.ids == after.graph.ids)
        for id in before.graph.ids {
            let old = try #require(before.graph[id])
            let new = try #require(after.graph[id])
            #expect(before.fingerprint(old, input: input) == after.fingerprint(new, input: input), "\(id)")
        }
        // A need that orders the step is part of its fingerprint.
        let reordered = Executor(graph: try chain(["a"]), actions: table, store: store)
        #expect(
            reordered.fingerprint(try #require(reordered.graph["c"]), input: input)
                != before.fingerprint(try #require(before.graph["c"]), input: input))
    }
}
