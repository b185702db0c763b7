import FoundationEssentials
import SBSCore

/// The code behind one `action:` name, typed.
///
/// The contract (as in Bazel or Nix): `input` builds the step's `Input` purely — no file, process, clock or network —
/// from the run's `Context` (the installer's answers) and the outputs of the steps its `needs:` names (see
/// `NeededOutputs`). The executor hashes the canonical encoding of that Input; `run` receives exactly that Input,
/// decoded from the hashed bytes, and nothing else that can change between runs. So "same fingerprint ⇒ skip" is sound.
/// Secrets enter an Input only as keyed digests. Files a step writes are returned as products: a missing or changed
/// product re-runs the step, as make rebuilds a missing target.
public protocol StepAction: Sendable {
    /// What every Input is built from, besides needed outputs (the installer's answers and settings).
    associatedtype Context: Sendable
    associatedtype Input: Codable & Hashable & Sendable
    associatedtype Output: Codable & Hashable & Sendable

    /// The name step files give in `action:`.
    static var name: String { get }
    /// Fields of `Output` that a `when:` may name as `STEP.FIELD` (checked when the graph loads).
    static var conditionFacts: Set<String> { get }
    /// True for a step that reads the world (host hardware): it runs on every run that covers it, and the steps
    /// after it run again only when its output changes.
    static var observes: Bool { get }

    /// Builds the Input. Pure: no I/O.
    /// - Throws: `UserError` when a needed output is missing (the step it comes from has not run).
    func input(_ context: Context, needs: NeededOutputs) throws -> Input

    /// Does the step.
    /// - Throws: `UserError` saying what failed and what to do; `CancellationError` when interrupted.
    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output>
}

extension StepAction {
    public static var conditionFacts: Set<String> { [] }
    public static var observes: Bool { false }
}

/// What a step leaves: its output (kept in the state for the steps after it) and the files it wrote.
public struct StepResult<Output: Sendable>: Sendable {
    public var output: Output
    public var products: [ProductFile]

    public init(_ output: Output, products: [ProductFile] = []) {
        self.output = output
        self.products = products
    }
}

extension StepResult where Output == Nothing {
    public init(products: [ProductFile] = []) { self.init(Nothing(), products: products) }
}

/// An empty Input or Output.
public struct Nothing: Codable, Hashable, Sendable {
    public init() {}
}

/// A file a step wrote. `secret` files (holding passwords or keys) are recorded by a keyed digest only. A file
/// that another program legitimately replaces (a certificate `sbs renew` renews) is tracked by `presence` only:
/// removing it is drift, replacing it is not.
public struct ProductFile: Codable, Hashable, Sendable {
    public var path: String
    public var secret: Bool
    public var presence: Bool

    public init(_ path: String, secret: Bool = false, presence: Bool = false) {
        self.path = path
        self.secret = secret
        self.presence = presence
    }
}

/// A product as the state keeps it: where, and the digest of what was written (`present` for a file tracked by
/// presence only).
public struct RecordedProduct: Codable, Hashable, Sendable {
    public static let presence = "present"

    public var path: String
    public var secret: Bool
    public var digest: String

    public init(path: String, secret: Bool, digest: String) {
        self.path = path
        self.secret = secret
        self.digest = digest
    }
}

/// The outputs of the steps a step names in its `needs:`, by action. Only those: a step reads nothing of a step it
/// reaches only through another (name it in `needs:` to read it), so its file says everything its Input is built
/// from.
public struct NeededOutputs: Sendable {
    /// Action name → (step id, output); nil output: the step has not succeeded.
    let outputs: [String: (step: String, output: JSONValue?)]
    /// The step whose Input is built, for messages (nil in tests that build an Input by hand).
    let reader: StepDefinition?

    public init(_ outputs: [String: (step: String, output: JSONValue?)], reader: StepDefinition? = nil) {
        self.outputs = outputs
        self.reader = reader
    }

    /// The output of the needed step that runs `A`.
    /// - Throws: `UserError` when the step has no output yet (skipped, not run, failed); an internal error when no
    ///   step of its `needs:` runs `A` (a defect of the step file or the action, caught by the tests that build
    ///   every Input of the bundled graph).
    public func output<A: StepAction>(of action: A.Type) throws(UserError) -> A.Output {
        guard let entry = outputs[A.name] else { throw notNeeded(A.name) }
        guard let value = entry.output else {
            throw UserError(
                "The step '\(entry.step)' has not finished, and this step needs what it found.",
                remedy: "Run it first: `sbs install --through \(entry.step)` (or drop `--skip \(entry.step)`).")
        }
        do { return try value.decode(A.Output.self) } catch {
            throw UserError(
                "The saved output of '\(entry.step)' is not what this sbs expects (\(describe(error))).",
                remedy: "Run it again: `sbs install --from \(entry.step)`.")
        }
    }

    /// The output of the needed step that runs `A`, or nil when that step did not run (a `when:` left it out).
    /// - Throws: as `output(of:)`: reading a step that is not in `needs:` is refused here too.
    public func optionalOutput<A: StepAction>(of action: A.Type) throws(UserError) -> A.Output? {
        guard let entry = outputs[A.name] else { throw notNeeded(A.name) }
        guard entry.output != nil else { return nil }
        return try output(of: action)
    }

    func notNeeded(_ action: String) -> UserError {
        let named = reader?.needs ?? outputs.values.map(\.step).sorted()
        let needs = named.isEmpty ? "it needs no step" : "its needs: [\(named.joined(separator: ", "))]"
        guard let reader else {
            return UserError(
                "Internal error: a step reads the output of '\(action)', which is not in its needs (\(needs)).")
        }
        return UserError(
            "Internal error: step '\(reader.id)' reads the output of '\(action)', which is not in its needs (\(needs)).",
            remedy:
                "A step reads only the steps it names: add the step that runs \(action) to `needs:` in \(reader.location("needs"))."
        )
    }
}

/// What the graph checks step files against: each action's condition facts, and the facts answers provide.
public struct ActionCatalog: Sendable {
    /// Action name → the output fields a `when:` may test.
    public var actions: [String: Set<String>]
    /// Keys that are facts before any step runs (answers such as `tls.mode`).
    public var baseFacts: Set<String>
    /// Actions that run every time (see `StepAction.observes`).
    public var observing: Set<String>

    public init(actions: [String: Set<String>], baseFacts: Set<String> = [], observing: Set<String> = []) {
        self.actions = actions
        self.baseFacts = baseFacts
        self.observing = observing
    }

    /// Actions with no condition facts.
    public init(names: Set<String>, baseFacts: Set<String> = []) {
        self.init(actions: Dictionary(uniqueKeysWithValues: names.map { ($0, []) }), baseFacts: baseFacts)
    }
}

/// The code behind the `action:` names of the step files, as the executor sees it: encoded Inputs and Outputs.
/// `ActionTable` provides it from typed `StepAction`s; tests may provide small ones.
public protocol StepActions: Sendable {
    var catalog: ActionCatalog { get }

    /// The canonical encoding of the step's Input (see `StepAction.input`). Pure.
    func input(of step: StepDefinition, needs: NeededOutputs) throws -> Data

    /// Runs the step with exactly `input`.
    func run(_ step: StepDefinition, input: Data, log: StepLog) async throws -> StepOutcomeValue

    /// The digest of a product file as it is now, nil when it is missing. Reads the file.
    func digest(of product: ProductFile) -> String?
}

/// A finished step, encoded.
public struct StepOutcomeValue: Sendable {
    public var output: JSONValue
    public var products: [RecordedProduct]

    public init(output: JSONValue, products: [RecordedProduct] = []) {
        self.output = output
        self.products = products
    }
}

/// Typed actions by name, for one run's `Context`.
public struct ActionTable<Context: Sendable>: StepActions {
    struct Entry: Sendable {
        var facts: Set<String>
        var observes: Bool
        var input: @Sendable (Context, NeededOutputs) throws -> Data
        var run: @Sendable (Data, StepLog) async throws -> (JSONValue, [ProductFile])
        var decode: @Sendable (Data) throws -> Void
    }

    public let context: Context
    public let baseFacts: Set<String>
    let digester: @Sendable (ProductFile) -> String?
    var entries: [String: Entry] = [:]

    /// - Parameters:
    ///   - baseFacts: the fact keys `when:` may name besides step outputs.
    ///   - digester: the digest of a product file now (nil when missing); secret files get a keyed digest.
    public init(context: Context, baseFacts: Set<String>, digester: @escaping @Sendable (ProductFile) -> String?) {
        self.context = context
        self.baseFacts = baseFacts
        self.digester = digester
    }

    public mutating func register<A: StepAction>(_ action: A) where A.Context == Context {
        entries[A.name] = Entry(
            facts: A.conditionFacts, observes: A.observes,
            input: { context, needs in try JSONValue.canonicalEncoder.encode(try action.input(context, needs: needs)) },
            run: { data, log in
                let input: A.Input
                do { input = try JSONValue.canonicalDecoder.decode(A.Input.self, from: data) } catch {
                    throw UserError("Internal error: the input of \(A.name) does not decode (\(describe(error))).")
                }
                let result = try await action.run(input, log: log)
                return (try JSONValue(encoding: result.output), result.products)
            },
            decode: { data in _ = try JSONValue.canonicalDecoder.decode(A.Input.self, from: data) })
    }

    public var catalog: ActionCatalog {
        ActionCatalog(
            actions: entries.mapValues(\.facts), baseFacts: baseFacts,
            observing: Set(entries.filter(\.value.observes).keys))
    }

    public func input(of step: StepDefinition, needs: NeededOutputs) throws -> Data {
        guard let entry = entries[step.action] else { throw UserError("unknown action \(step.action)") }
        return try entry.input(context, needs)
    }

    /// Reads `input` back as the step's action will before it runs, without running it: what `input(of:)` writes
    /// must decode (a test checks it for every step).
    public func decodeInput(of step: StepDefinition, _ input: Data) throws {
        guard let entry = entries[step.action] else { throw UserError("unknown action \(step.action)") }
        try entry.decode(input)
    }

    public func run(_ step: StepDefinition, input: Data, log: StepLog) async throws -> StepOutcomeValue {
        guard let entry = entries[step.action] else { throw UserError("unknown action \(step.action)") }
        let (output, products) = try await entry.run(input, log)
        var recorded: [RecordedProduct] = []
        for product in products {
            guard let digest = digester(product) else {
                throw UserError("Step '\(step.id)' reported \(product.path) as written, but it is not there.")
            }
            recorded.append(
                RecordedProduct(
                    path: product.path, secret: product.secret,
                    digest: product.presence ? RecordedProduct.presence : digest))
        }
        return StepOutcomeValue(output: output, products: recorded)
    }

    public func digest(of product: ProductFile) -> String? { digester(product) }
}

/// A decoding error as one line naming the field, not a dump.
public func describe(_ error: any Error) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        return keys.isEmpty ? "the top level" : "'" + keys.joined(separator: ".").replacing(".[", with: "[") + "'"
    }
    switch error {
    case DecodingError.keyNotFound(let key, let context):
        let parent = path(context)
        return "the field '\(key.stringValue)' is missing" + (context.codingPath.isEmpty ? "" : " in \(parent)")
    case DecodingError.typeMismatch(let type, let context):
        return "\(path(context)) is not a \(type)"
    case DecodingError.valueNotFound(let type, let context):
        return "\(path(context)) is null where a \(type) belongs"
    case DecodingError.dataCorrupted(let context):
        return context.codingPath.isEmpty ? "it is not valid JSON" : "\(path(context)): \(context.debugDescription)"
    case let error as UserError:
        return error.message
    default:
        return String(describing: error)
    }
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
