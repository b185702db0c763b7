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

    /// Reads `schemas` (ordinary tables only: a partitioned table's rows are in its partitions, which are tables).
    static func read(_ database: Database, schemas: [String], runner: any CommandRunner) async throws(UserError)
        -> Self
    {
        let list = "ARRAY[" + schemas.map(SQL.literal).joined(separator: ",") + "]::text[]"
        let columns = try await database.query(
            [
                """
                SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated <> ''
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                WHERE c.relkind = 'r' AND n.nspname = ANY(\(list))
                ORDER BY n.nspname, c.relname, a.attnum
                """
            ], runner: runner)
        let keys = try await database.query(
            [
                """
                SELECT n.nspname, c.relname, a.attname
                FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                WHERE i.indisprimary AND c.relkind = 'r' AND n.nspname = ANY(\(list))
                ORDER BY n.nspname, c.relname, k.position
                """
            ], runner: runner)
        let foreign = try await database.query(
            [
                """
                SELECT n.nspname, c.relname, rn.nspname, r.relname
                FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
                WHERE k.contype = 'f' AND n.nspname = ANY(\(list))
                """
            ], runner: runner)
        let sequences = try await database.query(
            [
                "SELECT schemaname, sequencename, coalesce(last_value::text, '') FROM pg_sequences WHERE schemaname = ANY(\(list)) ORDER BY 1, 2"
            ], runner: runner)
        var tables: [TableName: TableFacts] = [:]
        for row in columns where row.count == 6 {
            let name = TableName(schema: row[0], name: row[1])
            let column = Column(
                name: row[2], type: row[3], notNull: row[4] == "t", generated: row[5] == "t")
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
            sequences: sequences.filter { $0.count == 3 }.map {
                (TableName(schema: $0[0], name: $0[1]), $0[2].isEmpty ? nil : $0[2])
            })
    }

    /// Each table's exact row count and size on disk (with its indexes and TOAST), in one query.
    static func sizes(of tables: [TableName], in database: Database, runner: any CommandRunner)
        async throws(UserError) -> [TableName: (rows: Int, bytes: Int)]
    {
        guard !tables.isEmpty else { return [:] }
        let parts = tables.map { table in
            "SELECT \(SQL.literal(table.schema)), \(SQL.literal(table.name)), (SELECT count(*) FROM ONLY \(table.sql)), pg_total_relation_size(\(SQL.literal(table.sql)))"
        }
        let rows = try await database.query(
            [parts.joined(separator: " UNION ALL ")], runner: runner, timeout: .seconds(3600))
        var result: [TableName: (rows: Int, bytes: Int)] = [:]
        for row in rows where row.count == 4 {
            result[TableName(schema: row[0], name: row[1])] = (Int(row[2]) ?? 0, Int(row[3]) ?? 0)
        }
        return result
    }
}
