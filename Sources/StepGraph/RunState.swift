import FoundationEssentials
import SBSCore

/// Where a step stands.
public enum StepStatus: String, Codable, Sendable, CaseIterable {
    case pending, running, succeeded, failed, skipped
}

/// What `state.json` keeps of one step. Never secrets.
public struct StepRecord: Codable, Sendable, Equatable {
    public var status: StepStatus = .pending
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The Input the step last succeeded with: sha256 of its definition and the canonical encoding of its Input.
    public var fingerprint: String?
    /// The step's typed Output, for the steps after it (no secrets).
    public var output: JSONValue?
    /// The files it wrote, with their digests when it wrote them (secret files as keyed digests).
    public var products: [RecordedProduct] = []
    public var lastError: String?
    /// Why the step was skipped (`when` false, `--skip`).
    public var note: String?
    /// The log of the run that last ran the step.
    public var log: String?

    public init() {}

    /// The output's top-level fields as facts for `when:` conditions.
    public var facts: [String: String] { output?.facts ?? [:] }

    public var duration: Double? {
        guard let startedAt, let finishedAt else { return nil }
        return finishedAt.timeIntervalSince(startedAt)
    }
}

/// What a run was asked to do; `sbs resume` repeats it. `invocation` is the caller's own part (for the
/// installer: the answers file, interactive or not, fixture folders), kept and handed back unread.
public struct RunScope: Codable, Sendable, Equatable {
    public var through: String?
    public var from: String?
    public var skip: [String] = []
    public var invocation: JSONValue?

    public init(through: String? = nil, from: String? = nil, skip: [String] = [], invocation: JSONValue? = nil) {
        self.through = through
        self.from = from
        self.skip = skip
        self.invocation = invocation
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        through = try container.decodeIfPresent(String.self, forKey: .through)
        from = try container.decodeIfPresent(String.self, forKey: .from)
        skip = try container.decodeIfPresent([String].self, forKey: .skip) ?? []
        invocation = try container.decodeIfPresent(JSONValue.self, forKey: .invocation)
    }
}

/// `<root>/var/lib/sbs/state.json`.
public struct RunState: Codable, Sendable, Equatable {
    public static let currentSchema = 2

    public var schema: Int = RunState.currentSchema
    public var scope: RunScope = RunScope()
    public var steps: [String: StepRecord] = [:]
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The log of the latest run.
    public var log: String?
    /// Whether the latest run finished with every step in scope done.
    public var completed: Bool = false

    public init() {}

    public subscript(id: String) -> StepRecord {
        get { steps[id] ?? StepRecord() }
        set { steps[id] = newValue }
    }
}

/// Loads and saves the run state atomically (temp file, fsync, rename, fsync of the folder).
public struct StateStore: Sendable {
    public let path: String

    public init(layout: Layout) {
        path = layout.stateFile
    }

    public init(path: String) {
        self.path = path
    }

    /// The saved state, or nil before the first run.
    /// - Throws: `UserError` when the file exists but cannot be read or is not a state file sbs understands.
    public func load() throws(UserError) -> RunState? {
        guard let bytes = try AtomicFile.read(path, limit: .state, followingLinks: false) else { return nil }
        struct Schema: Decodable { var schema: Int? }
        let remedy = "Move it away to start over; finished steps are then checked again."
        do {
            let schema = try StateStore.decoder.decode(Schema.self, from: Data(bytes)).schema ?? 1
            if schema > RunState.currentSchema {
                throw UserError(
                    "\(path) was written by a newer sbs (schema \(schema)).",
                    remedy: "Use that sbs version, or move the file away to start over.")
            }
            if schema < RunState.currentSchema {
                // An older sbs kept untyped outputs: every step is checked again (each is idempotent).
                return RunState()
            }
            return try StateStore.decoder.decode(RunState.self, from: Data(bytes))
        } catch let error as UserError {
            throw error
        } catch {
            throw UserError("\(path) is damaged: \(describe(error)).", remedy: remedy)
        }
    }

    public func save(_ state: RunState) throws(UserError) {
        let data: Data
        do { data = try StateStore.encoder.encode(state) } catch {
            throw UserError("Could not encode the run state: \(error)")
        }
        try AtomicFile.write(Array(data) + [10], to: path, mode: 0o644)
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
