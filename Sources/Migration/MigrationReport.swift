import FoundationEssentials
import SBSCore

/// What a migration found at its end: each table's row count and checksum on both sides.
public struct MigrationReport: Codable, Sendable, Equatable {
    public struct Table: Codable, Sendable, Equatable {
        public var table: String
        public var sourceRows: Int
        public var serverRows: Int
        public var sourceChecksum: String
        public var serverChecksum: String
        /// Copied by this run (else verified by an earlier one and checked again now).
        public var copiedNow: Bool
        public var equal: Bool { sourceRows == serverRows && sourceChecksum == serverChecksum }

        enum CodingKeys: String, CodingKey {
            case table, sourceRows, serverRows, sourceChecksum, serverChecksum, copiedNow
        }

        /// Also writes `equal`, for readers of the JSON (reading ignores it: it is derived).
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(table, forKey: .table)
            try container.encode(sourceRows, forKey: .sourceRows)
            try container.encode(serverRows, forKey: .serverRows)
            try container.encode(sourceChecksum, forKey: .sourceChecksum)
            try container.encode(serverChecksum, forKey: .serverChecksum)
            try container.encode(copiedNow, forKey: .copiedNow)
            var derived = encoder.container(keyedBy: Derived.self)
            try derived.encode(equal, forKey: .equal)
        }
    }

    enum Derived: String, CodingKey { case equal, passed }

    public var source: String
    public var tables: [Table]
    public var sequencesSet: Int
    /// Source columns the server's tables lack, by table (not carried).
    public var notCarried: [String: [String]]
    public var passed: Bool { tables.allSatisfy(\.equal) }

    enum CodingKeys: String, CodingKey { case source, tables, sequencesSet, notCarried }

    /// Also writes `passed`, for readers of the JSON (reading ignores it: it is derived).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(source, forKey: .source)
        try container.encode(tables, forKey: .tables)
        try container.encode(sequencesSet, forKey: .sequencesSet)
        try container.encode(notCarried, forKey: .notCarried)
        var derived = encoder.container(keyedBy: Derived.self)
        try derived.encode(passed, forKey: .passed)
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func decode(_ text: String) throws -> Self {
        try JSONDecoder().decode(Self.self, from: Data(text.utf8))
    }

    /// One line per table (rows on both sides, whether the checksums agree), then a summary line.
    public func text() -> String {
        let width = max(5, tables.map(\.table.count).max() ?? 0) + 2
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
        }
        var lines = [pad("TABLE", width) + pad("SOURCE ROWS", 14) + pad("SERVER ROWS", 14) + "CHECKSUM"]
        for table in tables {
            lines.append(
                pad(table.table, width) + pad(String(table.sourceRows), 14) + pad(String(table.serverRows), 14)
                    + (table.equal ? "equal" : "DIFFERENT"))
        }
        for (table, columns) in notCarried.sorted(by: { $0.key < $1.key }) {
            lines.append("\(table): the server's table has no \(columns.joined(separator: ", ")); not carried.")
        }
        let differing = tables.filter { !$0.equal }.count
        lines.append(
            passed
                ? "\(tables.count) table(s) equal on both sides (row counts and key checksums); \(sequencesSet) sequence(s) set."
                : "\(differing) of \(tables.count) table(s) differ.")
        return lines.joined(separator: "\n") + "\n"
    }
}
