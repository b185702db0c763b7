import FoundationEssentials
import SBSCore

/// What `sbs migrate` is asked to move.
public struct MigrationOptions: Sendable, Equatable {
    /// The schemas whose definitions and data move (`--schema`, default `public`).
    public var schemas: [String]
    /// Only these tables' data (`--table`); empty: every table of `schemas`.
    public var tables: [TableName]

    public init(schemas: [String] = ["public"], tables: [TableName] = []) {
        self.schemas = schemas
        self.tables = tables
    }

    /// The schemas Supabase itself owns on the server (its services create and migrate them): never overwritten.
    public static let supabaseSchemas: Set<String> = [
        "auth", "storage", "extensions", "graphql", "graphql_public", "realtime", "_realtime", "supabase_functions",
        "supabase_migrations", "vault", "pgsodium", "pgsodium_masks", "net", "cron", "_analytics", "pgbouncer",
        "pg_catalog", "information_schema", "pg_toast",
    ]

    /// The users and their logins: carried with their ids and password hashes, into the tables the server's GoTrue
    /// made (only the columns both sides have).
    public static let authTables = [
        TableName(schema: "auth", name: "users"), TableName(schema: "auth", name: "identities"),
    ]

    /// - Throws: `UserError` for a Supabase schema or a table outside the chosen schemas.
    public func validate() throws(UserError) {
        for schema in schemas where Self.supabaseSchemas.contains(schema) || schema.hasPrefix("pg_") {
            throw UserError(
                "--schema \(schema) is one of Supabase's own schemas, which the server's services create and keep.",
                remedy:
                    "Leave it out: the users (auth.users, auth.identities) are carried anyway; name your own schemas with --schema."
            )
        }
        for table in tables where !schemas.contains(table.schema) {
            throw UserError(
                "--table \(table) is not in the schemas being moved (\(schemas.joined(separator: ", "))).",
                remedy: "Add --schema \(table.schema), or name a table of those schemas.")
        }
    }
}

/// One table's copy: which columns, how they travel, how they are checked.
public struct TablePlan: Sendable, Equatable {
    public var table: TableName
    /// The columns copied, in the source's order (generated columns are computed by the server again).
    public var columns: [String]
    /// What the checksum is taken over: the primary key, or every copied column for a table without one.
    public var key: [String]
    public var rows: Int
    public var bytes: Int
    /// Columns of the source that the server's table does not have (newer GoTrue columns): not carried.
    public var notCarried: [String]
}

/// The plan of a migration: whether the schema is applied, then the tables in an order that respects their foreign
/// keys, then the sequences.
public struct MigrationPlan: Sendable {
    public var schemas: [String]
    /// The source's schema is applied first (none of its tables exists on the server yet).
    public var applySchema: Bool
    public var tables: [TablePlan]
    public var sequences: [(name: TableName, lastValue: String)]

    /// - Parameters:
    ///   - ours: tables this migration started or finished copying (its record), which may hold rows.
    /// - Throws: `UserError` naming every refusal: a table defined differently on the server, a server that has
    ///   some of the tables and not others, a server table that holds rows of its own, a missing auth table.
    static func make(
        options: MigrationOptions, source: Inventory, local: Inventory,
        sizes: [TableName: (rows: Int, bytes: Int)], localRows: [TableName: Int], ours: Set<TableName>
    ) throws(UserError) -> Self {
        let chosen = source.tables.keys.filter { options.schemas.contains($0.schema) }.sorted()
        for table in options.tables where source.tables[table] == nil {
            throw UserError("--table \(table) does not exist in the source.", remedy: "Check its name (schema.table).")
        }
        let existing = chosen.filter { local.tables[$0] != nil }
        if !existing.isEmpty && existing.count != chosen.count {
            let missing = chosen.filter { local.tables[$0] == nil }
            throw UserError(
                "The server already has \(existing.count) of the source's \(chosen.count) tables (\(list(existing))) but not \(list(missing)): sbs migrate applies the schema as a whole, or finds it complete.",
                remedy:
                    "Drop the server's copies of those tables if they hold nothing you need, or create the missing ones, then run sbs migrate again."
            )
        }
        var problems: [String] = []
        for table in existing {
            if let difference = difference(source.tables[table]!, local.tables[table]!) {
                problems.append("\(table) is defined differently on the server: \(difference)")
            }
        }
        var carried = options.tables.isEmpty ? chosen : chosen.filter { options.tables.contains($0) }
        for table in Self.authTablesPresent(in: source) {
            guard local.tables[table] != nil else {
                problems.append(
                    "\(table) does not exist on the server: GoTrue (app-auth) creates it when it first starts; check `sbs status`"
                )
                continue
            }
            carried.append(table)
        }
        for table in carried where !ours.contains(table) {
            if let rows = localRows[table], rows > 0 {
                problems.append(
                    "\(table) already holds \(rows) row(s) on the server, which sbs migrate would replace")
            }
        }
        guard problems.isEmpty else {
            throw UserError(
                "Nothing was written; the migration is refused:\n  " + problems.joined(separator: "\n  "),
                remedy: "sbs migrate fills only tables that are empty on the server and defined as in the source.")
        }
        let plans = carried.map { table in
            tablePlan(source.tables[table]!, local: local.tables[table], size: sizes[table])
        }
        return Self(
            schemas: options.schemas, applySchema: existing.isEmpty && !chosen.isEmpty,
            tables: ordered(plans, facts: source.tables),
            sequences: source.sequences.compactMap { sequence in
                guard options.schemas.contains(sequence.name.schema), let value = sequence.lastValue else { return nil }
                return (sequence.name, value)
            })
    }

    static func authTablesPresent(in source: Inventory) -> [TableName] {
        MigrationOptions.authTables.filter { source.tables[$0] != nil }
    }

    static func list(_ tables: [TableName]) -> String {
        let names = tables.prefix(5).map(\.description).joined(separator: ", ")
        return tables.count > 5 ? names + " and \(tables.count - 5) more" : names
    }

    /// How the server's definition differs from the source's (columns by name: type, NOT NULL, generated), or nil.
    static func difference(_ source: TableFacts, _ local: TableFacts) -> String? {
        let theirs = Dictionary(local.columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let ours = Set(source.columns.map(\.name))
        var found: [String] = []
        for column in source.columns {
            guard let other = theirs[column.name] else {
                found.append("no column \(column.name)")
                continue
            }
            if other.type != column.type { found.append("\(column.name) is \(other.type), not \(column.type)") }
            if other.notNull != column.notNull {
                found.append("\(column.name) is \(other.notNull ? "NOT NULL" : "nullable") there")
            }
            if other.generated != column.generated {
                found.append("\(column.name) is \(other.generated ? "" : "not ")generated there")
            }
        }
        for column in local.columns where !ours.contains(column.name) { found.append("an extra column \(column.name)") }
        return found.isEmpty ? nil : found.joined(separator: "; ")
    }

    static func tablePlan(_ source: TableFacts, local: TableFacts?, size: (rows: Int, bytes: Int)?) -> TablePlan {
        let localColumns = Dictionary(
            (local?.columns ?? source.columns).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var columns: [String] = []
        var notCarried: [String] = []
        for column in source.columns where !column.generated {
            guard let other = localColumns[column.name], !other.generated else {
                notCarried.append(column.name)
                continue
            }
            columns.append(column.name)
        }
        let key =
            source.primaryKey.allSatisfy(columns.contains) && !source.primaryKey.isEmpty ? source.primaryKey : columns
        return TablePlan(
            table: source.table, columns: columns, key: key, rows: size?.rows ?? 0,
            bytes: size?.bytes ?? 0, notCarried: notCarried)
    }

    /// The tables in an order where a table comes after those its foreign keys point at (ties by name; the tables of
    /// a cycle at the end, by name: the copy defers the checks anyway, see `TableCopy`).
    static func ordered(_ plans: [TablePlan], facts: [TableName: TableFacts]) -> [TablePlan] {
        var remaining = Dictionary(uniqueKeysWithValues: plans.map { ($0.table, $0) })
        var result: [TablePlan] = []
        while !remaining.isEmpty {
            let ready = remaining.keys.filter { table in
                (facts[table]?.references ?? []).allSatisfy { remaining[$0] == nil }
            }.sorted()
            let next = ready.isEmpty ? remaining.keys.sorted() : ready
            for table in next { result.append(remaining.removeValue(forKey: table)!) }
        }
        return result
    }
}
