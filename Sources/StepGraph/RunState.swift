import Foundation
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
    /// The inputs the step last succeeded with (sha256 of step definition, inputs and needed steps' outputs).
    public var fingerprint: String?
    /// Facts the step produced for its dependents (no secrets).
    public var outputs: [String: String] = [:]
    public var lastError: String?
    /// Why the step was skipped (`when` false, `--skip`).
    public var note: String?
    /// The log of the run that last ran the step.
    public var log: String?

    public init() {}

    public var duration: Double? {
        guard let startedAt, let finishedAt else { return nil }
        return finishedAt.timeIntervalSince(startedAt)
    }
}

/// What a run was asked to do; `sbs resume` repeats it.
public struct RunScope: Codable, Sendable, Equatable {
    public var command: String = "install"
    public var answersFile: String?
    public var through: String?
    public var from: String?
    public var skip: [String] = []
    public var interactive: Bool = false
    public var sysroot: String?
    public var assets: String?

    public init(command: String = "install", answersFile: String? = nil, through: String? = nil, from: String? = nil,
                skip: [String] = [], interactive: Bool = false, sysroot: String? = nil, assets: String? = nil) {
        self.command = command
        self.answersFile = answersFile
        self.through = through
        self.from = from
        self.skip = skip
        self.interactive = interactive
        self.sysroot = sysroot
        self.assets = assets
    }
}

/// `<root>/var/lib/sbs/state.json`.
public struct RunState: Codable, Sendable, Equatable {
    public static let currentSchema = 1

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
        guard let bytes = try AtomicFile.read(path) else { return nil }
        do {
            let state = try StateStore.decoder.decode(RunState.self, from: Data(bytes))
            if state.schema > RunState.currentSchema {
                throw UserError("\(path) was written by a newer sbs (schema \(state.schema)).",
                                remedy: "Use that sbs version, or move the file away to start over.")
            }
            return state
        } catch let error as UserError {
            throw error
        } catch {
            throw UserError("\(path) is damaged: \(error)", remedy: "Move it away to start over; finished steps are then checked again.")
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
