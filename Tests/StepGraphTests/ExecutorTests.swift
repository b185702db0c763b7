import Foundation
import SBSCore
import Synchronization
import Testing
@testable import StepGraph

/// Actions whose inputs and outputs the test sets, recording what ran. An action the test did not declare
/// fails the run (fail closed).
final class RecordingActions: StepActions, @unchecked Sendable {
    let lock = NSLock()
    var inputsByStep: [String: [String: String]] = [:]
    var outputsByStep: [String: [String: String]] = [:]
    var failures: [String: Int] = [:]   // step → how many more times it fails
    var ran: [String] = []
    let known: Set<String>

    init(known: Set<String>) { self.known = known }

    func inputs(of step: StepDefinition, facts: [String: String]) throws -> [String: String] {
        lock.withLock { inputsByStep[step.id] ?? [:] }
    }

    func run(_ step: StepDefinition, facts: [String: String], log: StepLog) async throws -> [String: String] {
        try lock.withLock {
            ran.append(step.id)
            if let remaining = failures[step.id], remaining > 0 {
                failures[step.id] = remaining - 1
                throw UserError("\(step.id) broke")
            }
            return outputsByStep[step.id] ?? [:]
        }
    }

    func takeRan() -> [String] { lock.withLock { defer { ran = [] }; return ran } }
}

/// A clock whose sleeps return at once, so retry delays are tested without waiting.
struct ImmediateClock: Clock {
    typealias Duration = Swift.Duration
    struct Instant: InstantProtocol {
        var offset: Swift.Duration
        func advanced(by duration: Swift.Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Swift.Duration { other.offset - offset }
        static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }
    var now: Instant { Instant(offset: .zero) }
    var minimumResolution: Swift.Duration { .zero }
    func sleep(until deadline: Instant, tolerance: Swift.Duration?) async throws { try Task.checkCancellation() }
}

func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("sbs-test-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// a → b → d, a → c → d, and e alone.
func diamond() throws -> Graph {
    try Graph([
        StepDefinition(id: "a", title: "A", action: "x"),
        StepDefinition(id: "b", title: "B", needs: ["a"], action: "x"),
        StepDefinition(id: "c", title: "C", needs: ["a"], action: "x"),
        StepDefinition(id: "d", title: "D", needs: ["b", "c"], action: "x"),
        StepDefinition(id: "e", title: "E", action: "x"),
    ], knownActions: ["x"])
}

@Suite struct ExecutorRuns {
    let dir = temporaryDirectory()
    var store: StateStore { StateStore(path: dir + "/state.json") }

    func run(_ executor: Executor, _ scope: RunScope = RunScope()) async throws -> RunOutcome {
        try await executor.run(scope: scope, baseFacts: [:], runLog: RunLog(), report: { _ in })
    }

    @Test func runsEverythingOnceThenSkipsEverything() async throws {
        let actions = RecordingActions(known: ["x"])
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
        let actions = RecordingActions(known: ["x"])
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
        let actions = RecordingActions(known: ["x"])
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        #expect(try await run(executor, RunScope(through: "b")) == .completed)
        #expect(Set(actions.takeRan()) == ["a", "b"])
        #expect(try store.load()?["d"].status == .pending)
    }

    @Test func fromForcesTheStepAndItsDependents() async throws {
        let actions = RecordingActions(known: ["x"])
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor)
        _ = actions.takeRan()
        _ = try await run(executor, RunScope(from: "c"))
        #expect(actions.takeRan() == ["c", "d"])
    }

    @Test func skipLeavesTheStepOutAndGoesOn() async throws {
        let actions = RecordingActions(known: ["x"])
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor, RunScope(skip: ["c"]))
        #expect(!actions.takeRan().contains("c"))
        let state = try #require(try store.load())
        #expect(state["c"].status == .skipped)
        #expect(state["c"].note == "--skip")
        #expect(state["d"].status == .succeeded)
    }

    @Test func aFailureStopsDependentsAndIsResumedWhereItFailed() async throws {
        let actions = RecordingActions(known: ["x"])
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
        let actions = RecordingActions(known: ["x"])
        let executor = Executor(graph: try diamond(), actions: actions, store: store)
        _ = try await run(executor)
        _ = actions.takeRan()
        var state = try #require(try store.load())
        state["c"].status = .running   // as a kill -9 leaves it
        try store.save(state)
        _ = try await run(executor)
        #expect(actions.takeRan() == ["c"])
    }

    @Test func retriesWaitOnTheInjectedClock() async throws {
        let graph = try Graph([StepDefinition(id: "a", title: "A", action: "x", retry: RetryPolicy(attempts: 3, delay: .seconds(3600)))],
                              knownActions: ["x"])
        let actions = RecordingActions(known: ["x"])
        actions.failures["a"] = 2
        let events = Mutex<[String]>([])
        let executor = Executor(graph: graph, actions: actions, store: store, clock: ImmediateClock())
        let outcome = try await executor.run(scope: RunScope(), baseFacts: [:], runLog: RunLog()) { event in
            if case .retrying(_, let attempt, _, _, let delay) = event { events.withLock { $0.append("retry \(attempt) after \(delay)") } }
        }
        #expect(outcome == .completed)
        #expect(actions.takeRan() == ["a", "a", "a"])
        #expect(events.withLock { $0 } == ["retry 1 after 3600.0 seconds", "retry 2 after 3600.0 seconds"])
    }

    @Test func whenFalseSkipsWithTheReason() async throws {
        let graph = try Graph([StepDefinition(id: "a", title: "A", action: "x", when: try Condition(parsing: "features.gpu"))],
                              knownActions: ["x"])
        let actions = RecordingActions(known: ["x"])
        let executor = Executor(graph: graph, actions: actions, store: store)
        _ = try await executor.run(scope: RunScope(), baseFacts: ["features.gpu": "false"], runLog: RunLog(), report: { _ in })
        #expect(actions.takeRan().isEmpty)
        #expect(try store.load()?["a"].note == "when features.gpu is false")
        _ = try await executor.run(scope: RunScope(), baseFacts: ["features.gpu": "true"], runLog: RunLog(), report: { _ in })
        #expect(actions.takeRan() == ["a"])
    }

    @Test func aTimeoutFailsTheStepWithAMessage() async throws {
        struct Slow: StepActions {
            var known: Set<String> { ["x"] }
            func inputs(of step: StepDefinition, facts: [String: String]) throws -> [String: String] { [:] }
            func run(_ step: StepDefinition, facts: [String: String], log: StepLog) async throws -> [String: String] {
                try await Task.sleep(for: .seconds(30))
                return [:]
            }
        }
        let graph = try Graph([StepDefinition(id: "a", title: "A", action: "x", timeout: .milliseconds(50))], knownActions: ["x"])
        let outcome = try await Executor(graph: graph, actions: Slow(), store: store).run(scope: RunScope(), baseFacts: [:], runLog: RunLog(), report: { _ in })
        guard case .failed(let step, let error) = outcome else { Issue.record("not failed: \(outcome)"); return }
        #expect(step == "a")
        #expect(error.contains("did not finish within its timeout"))
    }

    @Test func planShowsWhatWouldRunWithoutRunning() async throws {
        let actions = RecordingActions(known: ["x"])
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
        let executor = Executor(graph: try diamond(), actions: RecordingActions(known: ["x"]), store: store)
        #expect(throws: UserError.self) { try executor.validate(RunScope(through: "nope")) }
    }
}

@Suite struct StateFiles {
    @Test func stateIsWrittenWholeWithNoTemporaryFileLeft() throws {
        let dir = temporaryDirectory()
        let store = StateStore(path: dir + "/lib/state.json")
        var state = RunState()
        state["a"].status = .succeeded
        state["a"].outputs = ["k": "v"]
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
        for index in 0..<400 { state["step-\(index)"].outputs = ["value": String(repeating: "x", count: 200)] }
        try store.save(state)
        let writer = Task.detached {
            for round in 0..<60 {
                var next = state
                next["step-0"].note = "round \(round)"
                try store.save(next)
            }
        }
        for _ in 0..<200 {
            let loaded = try store.load()   // throws "is damaged" on a torn read
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
            (error as? UserError)?.message.contains("is damaged") == true
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
