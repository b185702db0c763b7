import FoundationEssentials
import SBSCore

/// The record of a migration (`/var/lib/sbs/migration.json`, mode 0600, written atomically after every change):
/// which source it reads, whether the schema was applied, and each table's progress. A run that was stopped goes on
/// from it: verified tables are not copied again; a table left `copying` is emptied and copied anew.
public struct MigrationState: Codable, Sendable, Equatable {
    public enum TableStatus: String, Codable, Sendable {
        /// Its copy started: the server's table may hold part of it (or all of it, unchecked).
        case copying
        /// Copied, with row count and checksum equal on both sides.
        case verified
    }

    public struct TableRecord: Codable, Sendable, Equatable {
        public var status: TableStatus
        public var rows: Int?
        public var checksum: String?
    }

    /// The source, as `SourceURL.description` shows it (no secret).
    public var source: String
    /// The tables of the source's schema were made on the server (`pg_dump --section pre-data`).
    public var schemaApplied = false
    /// Their indexes, keys, constraints and triggers are still to be added (`--section post-data`), once every
    /// table is verified.
    public var postDataPending = false
    public var tables: [String: TableRecord] = [:]
    public var sequencesSet = false
    public var finished = false

    public init(source: String) { self.source = source }

    public static func path(in layout: Layout) -> String { layout.stateDir + "/migration.json" }

    /// - Throws: `UserError` when the record exists but cannot be read.
    public static func load(from path: String) throws(UserError) -> Self? {
        guard let bytes = try AtomicFile.read(path, limit: .state) else { return nil }
        do { return try JSONDecoder().decode(Self.self, from: Data(bytes)) } catch {
            throw UserError(
                "\(path) cannot be read: \(error)",
                remedy: "Move it away if no migration is under way, then run sbs migrate again.")
        }
    }

    public func save(to path: String) throws(UserError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(self) } catch {
            throw UserError("The migration's record cannot be written: \(error)")
        }
        try AtomicFile.makeDirectories(AtomicFile.parentDirectory(of: path), mode: 0o700)
        try AtomicFile.write(Array(data) + [0x0a], to: path, mode: 0o600)
    }

    /// The tables this migration has written to (their rows on the server are its own).
    var ours: Set<TableName> {
        Set(
            tables.keys.compactMap { key in
                guard let dot = key.firstIndex(of: ".") else { return nil }
                return TableName(schema: String(key[..<dot]), name: String(key[key.index(after: dot)...]))
            })
    }
}
