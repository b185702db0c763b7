import FoundationEssentials
import Processes
import SBSCore

/// A table by schema and name.
public struct TableName: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var schema: String
    public var name: String

    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
    }

    /// `schema.name` as given on the command line (`--table public.tasks`; `tasks` means public).
    /// - Throws: `UserError` for an empty part or more than one dot.
    public init(parsing text: String) throws(UserError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw UserError("--table \(text) is not SCHEMA.TABLE or TABLE.")
        }
        self.init(schema: parts.count == 2 ? parts[0] : "public", name: parts.last!)
    }

    public var description: String { schema + "." + name }
    /// The name quoted for SQL.
    var sql: String { SQL.identifier(schema) + "." + SQL.identifier(name) }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.schema, lhs.name) < (rhs.schema, rhs.name) }
}

/// A column as the catalog describes it.
public struct Column: Sendable, Hashable, Codable {
    public var name: String
    /// `format_type`: `bigint`, `character varying(255)`, `public.status[]` …
    public var type: String
    public var notNull: Bool
    /// A generated column: computed by the server, never copied.
    public var generated: Bool
}

/// What migrating needs to know of a table in one database.
public struct TableFacts: Sendable, Hashable {
    public var table: TableName
    public var columns: [Column]
    public var primaryKey: [String]
    /// The tables its foreign keys point at.
    public var references: Set<TableName>
}

/// The tables, columns, keys and sequences of some schemas of a database, read from its catalog.
public struct Inventory: Sendable {
    public var tables: [TableName: TableFacts]
    /// A sequence's value as `setval` takes it; nil last value: never used.
    public var sequences: [(name: TableName, lastValue: String?)]
    /// Each table's exact row count and size on disk (with its indexes and TOAST), when they were counted.
    public var sizes: [TableName: (rows: Int, bytes: Int)] = [:]
    /// The server's version (`15.8`) and its major number.
    public var version = ""
    public var major = 0

    /// Reads `schemas` (ordinary tables only: a partitioned table's rows are in its partitions, which are tables),
    /// in one statement of one session (each connection to a hosted server costs a TLS and a SCRAM handshake).
    /// - Parameter counting: whether every table's rows are counted (`count(*)`, through `query_to_xml`).
    static func read(_ database: Database, schemas: [String], counting: Bool = true, runner: any CommandRunner)
        async throws(UserError) -> Self
    {
        let list = "ARRAY[" + schemas.map(SQL.literal).joined(separator: ",") + "]::text[]"
        let count =
            counting
            ? "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text"
            : "'-1'"
        // One statement for the four: each row tagged with what it describes, and ordered by the column's or the
        // key's position (the last field, dropped once sorted).
        let rows = try await database.query(
            [
                """
                SELECT * FROM (
                  SELECT 'c', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                         a.attnotnull::text, (a.attgenerated <> '')::text, a.attnum::int
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  WHERE c.relkind = 'r' AND n.nspname = ANY(\(list))
                UNION ALL
                  SELECT 'k', n.nspname, c.relname, a.attname, '', '', '', k.position::int
                  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                  WHERE i.indisprimary AND c.relkind = 'r' AND n.nspname = ANY(\(list))
                UNION ALL
                  SELECT 'f', n.nspname, c.relname, rn.nspname, r.relname, '', '', 0
                  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                  JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
                  WHERE k.contype = 'f' AND n.nspname = ANY(\(list))
                UNION ALL
                  SELECT 's', schemaname, sequencename, coalesce(last_value::text, ''), '', '', '', 0
                  FROM pg_sequences WHERE schemaname = ANY(\(list))
                UNION ALL
                  SELECT 't', n.nspname, c.relname, \(count), pg_total_relation_size(c.oid)::text, '', '', 0
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'r' AND n.nspname = ANY(\(list))
                UNION ALL
                  SELECT 'v', current_setting('server_version'), current_setting('server_version_num'), '', '', '', '', 0
                ) AS catalog ORDER BY 1, 2, 3, 8, 4
                """
            ], runner: runner)
        func tagged(_ tag: String, _ count: Int) -> [[String]] {
            rows.filter { $0.count == 8 && $0[0] == tag }.map { Array($0[1...count]) }
        }
        let columns = tagged("c", 6)
        let keys = tagged("k", 3)
        let foreign = tagged("f", 4)
        let sequences = tagged("s", 3)
        var sizes: [TableName: (rows: Int, bytes: Int)] = [:]
        if counting {
            for row in tagged("t", 4) {
                sizes[TableName(schema: row[0], name: row[1])] = (Int(row[2]) ?? 0, Int(row[3]) ?? 0)
            }
        }
        guard let version = tagged("v", 2).first, let number = Int(version[1]) else {
            throw UserError("\(database.name) did not say its version.")
        }
        var tables: [TableName: TableFacts] = [:]
        for row in columns where row.count == 6 {
            let name = TableName(schema: row[0], name: row[1])
            let column = Column(
                name: row[2], type: row[3], notNull: row[4] == "true", generated: row[5] == "true")
            tables[name, default: TableFacts(table: name, columns: [], primaryKey: [], references: [])].columns
                .append(column)
        }
        for row in keys where row.count == 3 {
            tables[TableName(schema: row[0], name: row[1])]?.primaryKey.append(row[2])
        }
        for row in foreign where row.count == 4 {
            let target = TableName(schema: row[2], name: row[3])
            let table = TableName(schema: row[0], name: row[1])
            if target != table { tables[table]?.references.insert(target) }
        }
        return Self(
            tables: tables,
            sequences: sequences.map { (TableName(schema: $0[0], name: $0[1]), $0[2].isEmpty ? nil : $0[2]) },
            sizes: sizes, version: version[0].split(separator: " ").first.map(String.init) ?? version[0],
            major: number / 10000)
    }
}
