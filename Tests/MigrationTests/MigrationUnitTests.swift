import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

@testable import Migration

@Suite struct SourceURLTests {
    @Test(
        "a URL sbs shows and records parses back to the same source, over generated users, hosts, ports and databases")
    func roundTrip() throws {
        var generator = SeededGenerator(seed: 19)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789._-")
        for _ in 0..<300 {
            func word() -> String {
                String(
                    (0..<Int.random(in: 1...12, using: &generator)).map { _ in
                        alphabet.randomElement(using: &generator)!
                    })
            }
            let label = word().filter { $0.isLetter || $0.isNumber }
            let host = ["127.0.0.1", "localhost", "db.\(label.isEmpty ? "x" : label).supabase.co", "::1", "10.1.2.3"]
                .randomElement(using: &generator)!
            let port = Int.random(in: 1...65535, using: &generator)
            let shownHost = host.contains(":") ? "[\(host)]" : host
            let text = "postgres://\(word())@\(shownHost):\(port)/\(word())"
            let url = try SourceURL(text)
            #expect(url.description == text)
            #expect(try SourceURL(url.description) == url)
            #expect(url.sslMode == (SourceURL.isLoopback(host) ? "prefer" : "require"))
        }
    }

    @Test("percent-escapes decode; the connection string quotes what libpq would split")
    func escapes() throws {
        let url = try SourceURL(
            "postgresql://postgres.abc%27x@aws-0-eu.pooler.supabase.com/post%20gres?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        )
        #expect(url.user == "postgres.abc'x" && url.database == "post gres" && url.port == 5432)
        #expect(url.sslMode == "verify-full" && url.sslRootCert == "/etc/ca.pem")
        #expect(url.connectionString.contains("user='postgres.abc\\'x'"))
        #expect(url.connectionString.contains("dbname='post gres'"))
    }

    @Test(
        "refused: a password in the URL (never repeated), no TLS off this host, other schemes and parameters, bad ports",
        arguments: [
            ("postgres://u:s3cret-pass@db.example.com/postgres", "holds a password"),
            ("postgres://u@db.example.com/postgres?sslmode=disable", "unencrypted"),
            ("postgres://u@db.example.com/postgres?sslmode=prefer", "unencrypted"),
            ("mysql://u@db.example.com/x", "must be a postgres:// URL"),
            ("postgres://u@db.example.com/x?password=y", "does not take"),
            ("postgres://u@db.example.com:0/x", "bad port"),
            ("postgres://u@db.example.com:99999/x", "bad port"),
            ("postgres://db.example.com/x", "names no user"),
            ("postgres://u@db.example.com", "names no database"),
            ("postgres://u@db example.com/x", "space"),
            ("postgres://u@/x", "no valid host"),
            ("postgres://u%0a@h/x", "badly encoded"),
        ])
    func refusals(text: String, expected: String) {
        let error = #expect(throws: UserError.self) { try SourceURL(text) }
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
        #expect(error?.message.contains("s3cret") != true)
    }

    @Test("TLS may be off on loopback only")
    func loopbackWithoutTLS() throws {
        #expect(try SourceURL("postgres://u@127.0.0.1:5433/x?sslmode=disable").sslMode == "disable")
        #expect(try SourceURL("postgres://u@localhost/x").sslMode == "prefer")
    }
}

@Suite struct PasswordFileTests {
    @Test(
        "the password file is in memory, 0600, names only the source's host, port and user, escaped as libpq reads it")
    func content() throws {
        let url = try SourceURL("postgres://us:er@127.0.0.1:5433/db".replacingOccurrences(of: "us:er", with: "us%3Aer"))
        let file = try PasswordFile(password: #"pa:ss\word"#, for: url)
        let path = try #require(file.path)
        #expect(path.hasPrefix("/proc/\(getpid())/fd/"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == #"127.0.0.1:5433:*:us\:er:pa\:ss\\word"# + "\n")
        // As libpq sees it (stat follows the link in /proc).
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
        // Unnamed: it is on no file system (the link /proc shows names no path that exists).
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: path)
        #expect(target.hasSuffix("(deleted)"), "\(target)")
        #expect(try PasswordFile(password: nil, for: url).path == nil)
    }
}

@Suite struct MigrationPlanTests {
    static func facts(
        _ schema: String, _ name: String, _ columns: [(String, String)], key: [String] = ["id"],
        references: Set<TableName> = [], generated: Set<String> = []
    ) -> TableFacts {
        TableFacts(
            table: TableName(schema: schema, name: name),
            columns: columns.map {
                Column(name: $0.0, type: $0.1, notNull: $0.0 == "id", generated: generated.contains($0.0))
            },
            primaryKey: key, references: references)
    }

    static let users = facts(
        "auth", "users",
        [("id", "uuid"), ("email", "text"), ("is_anonymous", "boolean"), ("confirmed_at", "timestamp with time zone")],
        generated: ["confirmed_at"])
    static let tasks = facts(
        "public", "tasks", [("id", "bigint"), ("title", "text")],
        references: [TableName(schema: "public", name: "conversations")])
    static let conversations = facts(
        "public", "conversations", [("id", "uuid"), ("user_id", "uuid")],
        references: [TableName(schema: "auth", name: "users")])
    static let log = facts("public", "log", [("at", "text"), ("line", "text")], key: [])

    static func inventory(_ tables: [TableFacts], sequences: [(TableName, String?)] = []) -> Inventory {
        Inventory(
            tables: Dictionary(uniqueKeysWithValues: tables.map { ($0.table, $0) }),
            sequences: sequences.map { (name: $0.0, lastValue: $0.1) })
    }

    static let source = inventory(
        [users, tasks, conversations, log],
        sequences: [
            (TableName(schema: "public", name: "tasks_id_seq"), "42"),
            (TableName(schema: "public", name: "unused_seq"), nil),
        ])

    @Test(
        "an empty server: the schema is applied; tables ordered after those they point at; generated and missing columns left out; the key checksummed"
    )
    func emptyServer() throws {
        let localUsers = Self.facts(
            "auth", "users", [("id", "uuid"), ("email", "text"), ("confirmed_at", "timestamp with time zone")],
            generated: ["confirmed_at"])
        let plan = try MigrationPlan.make(
            options: MigrationOptions(), source: Self.source, local: Self.inventory([localUsers]), sizes: [:],
            localRows: [:], ours: [])
        #expect(plan.applySchema)
        #expect(
            plan.tables.map(\.table.description) == [
                "auth.users", "public.log", "public.conversations", "public.tasks",
            ])
        let users = try #require(plan.tables.first)
        #expect(users.columns == ["id", "email"] && users.notCarried == ["is_anonymous"] && users.key == ["id"])
        #expect(plan.tables.first { $0.table.name == "log" }?.key == ["at", "line"])
        #expect(plan.sequences.map(\.name.name) == ["tasks_id_seq"])
    }

    @Test(
        "refused, naming each problem: a different definition, rows of the server's own, a missing auth table, part of the tables"
    )
    func refusals() throws {
        var changed = Self.tasks
        changed.columns[1].type = "character varying(40)"
        changed.columns.append(Column(name: "note", type: "text", notNull: false, generated: false))
        let local = Self.inventory([changed, Self.conversations, Self.log])
        let error = #expect(throws: UserError.self) {
            try MigrationPlan.make(
                options: MigrationOptions(), source: Self.source, local: local, sizes: [:],
                localRows: [TableName(schema: "public", name: "log"): 3], ours: [])
        }
        let message = error?.message ?? ""
        #expect(
            message.contains(
                "public.tasks is defined differently on the server: title is character varying(40), not text; an extra column note"
            ))
        #expect(message.contains("auth.users does not exist on the server"))
        #expect(message.contains("public.log already holds 3 row(s)"))
        // The rows of a table this migration was copying are its own.
        let ours = try MigrationPlan.make(
            options: MigrationOptions(), source: Self.source,
            local: Self.inventory([Self.users, Self.tasks, Self.conversations, Self.log]),
            sizes: [:], localRows: [TableName(schema: "public", name: "log"): 3],
            ours: [TableName(schema: "public", name: "log")])
        #expect(!ours.applySchema && ours.tables.count == 4)
        let partial = #expect(throws: UserError.self) {
            try MigrationPlan.make(
                options: MigrationOptions(), source: Self.source, local: Self.inventory([Self.users, Self.tasks]),
                sizes: [:],
                localRows: [:], ours: [])
        }
        #expect(
            partial?.message.contains(
                "already has 1 of the source's 3 tables (public.tasks) but not public.conversations, public.log")
                == true)
    }

    @Test("options: Supabase's schemas and tables outside the chosen schemas are refused; --table picks the data")
    func options() throws {
        #expect(throws: UserError.self) { try MigrationOptions(schemas: ["auth"]).validate() }
        #expect(throws: UserError.self) { try MigrationOptions(schemas: ["storage"]).validate() }
        #expect(throws: UserError.self) {
            try MigrationOptions(schemas: ["public"], tables: [TableName(schema: "sales", name: "x")]).validate()
        }
        #expect(try TableName(parsing: "tasks") == TableName(schema: "public", name: "tasks"))
        #expect(throws: UserError.self) { try TableName(parsing: "a.b.c") }
        let plan = try MigrationPlan.make(
            options: MigrationOptions(tables: [TableName(schema: "public", name: "tasks")]), source: Self.source,
            local: Self.inventory([Self.users]), sizes: [:], localRows: [:], ours: [])
        #expect(plan.tables.map(\.table.description) == ["auth.users", "public.tasks"])
    }
}

@Suite struct MigrationTextTests {
    @Test("the schema script: only the chosen schemas' CREATE SCHEMA lines become IF NOT EXISTS")
    func schemaScript() {
        let dump =
            "SET x = 1;\nCREATE SCHEMA public;\nCREATE SCHEMA other;\nCREATE TABLE public.t (a int);\n  CREATE SCHEMA public;"
        #expect(
            Migration.schemaScript(dump, schemas: ["public"])
                == "SET x = 1;\nCREATE SCHEMA IF NOT EXISTS public;\nCREATE SCHEMA other;\nCREATE TABLE public.t (a int);\n  CREATE SCHEMA public;"
        )
    }

    @Test("quoting: identifiers with quotes, texts holding the dollar tag")
    func quoting() {
        #expect(SQL.identifier(#"we"ird"#) == #""we""ird""#)
        #expect(SQL.literal("it's") == "'it''s'")
        #expect(SQL.dollarQuoted("a $sbs$ b") == "$sbs1$a $sbs$ b$sbs1$")
        let plan = TablePlan(
            table: TableName(schema: "public", name: #"od"d"#), columns: ["id", #"c"1"#], key: ["id"], rows: 1,
            bytes: 1, notCarried: [])
        let copy = TableCopy(
            plan: plan, source: Database(access: .connection("host=x"), name: "s"),
            target: Database(access: .connection("host=y"), name: "t"), runner: SystemCommandRunner(),
            progress: { _ in })
        #expect(copy.header.hasPrefix("BEGIN;\n"))
        #expect(copy.header.hasSuffix(#"COPY "public"."od""d" ("id", "c""1") FROM STDIN;"#))
        #expect(copy.producer.contains(#"COPY "public"."od""d" ("id", "c""1") TO STDOUT"#))
        // The end of the rows, then the figures of both sides, then COMMIT: printed only after the COPY succeeded.
        let tail = Array(copy.producer.suffix(8))
        #expect(tail[1] == "SELECT $sbs$\\.$sbs$")
        #expect(tail[3].hasPrefix("SELECT format('SELECT %L;', 'sbs-source|' || count(*)"))
        #expect(
            tail[5].hasPrefix("SELECT $sbs$SELECT 'sbs-server|' || count(*)") && tail[5].hasSuffix("\nCOMMIT;$sbs$"))
        #expect(copy.consumer.suffix(4) == ["--tuples-only", "--no-align", "--file", "-"])
    }

    @Test("the report's JSON reads back to the same report; text names each table and the verdict")
    func report() throws {
        let report = MigrationReport(
            source: "postgres://u@h:5432/d",
            tables: [
                .init(
                    table: "public.a", sourceRows: 3, serverRows: 3, sourceChecksum: "12", serverChecksum: "12",
                    copiedNow: true),
                .init(
                    table: "public.b", sourceRows: 3, serverRows: 2, sourceChecksum: "-5", serverChecksum: "7",
                    copiedNow: false),
            ], sequencesSet: 2, notCarried: ["auth.users": ["is_anonymous"]])
        #expect(try MigrationReport.decode(report.json()) == report)
        #expect(!report.passed)
        let text = report.text()
        #expect(text.contains("public.b") && text.contains("DIFFERENT") && text.contains("1 of 2 table(s) differ."))
        #expect(text.contains("auth.users: the server's table has no is_anonymous; not carried."))
        // The derived verdicts are written for readers of the JSON (the end-to-end test reads them).
        let object = try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any]
        #expect(object?["passed"] as? Bool == false)
        #expect((object?["tables"] as? [[String: Any]])?.map { $0["equal"] as? Bool } == [true, false])
    }

    @Test("the record reads back; a copy in progress makes its table this migration's own")
    func state() throws {
        let path = try Scratch.folder("state") + "/var/lib/sbs/migration.json"
        var state = MigrationState(source: "postgres://u@h:5432/d")
        state.tables["public.a"] = .init(status: .verified, rows: 3, checksum: "9")
        state.tables["auth.users"] = .init(status: .copying)
        try state.save(to: path)
        #expect(try MigrationState.load(from: path) == state)
        #expect(state.ours == [TableName(schema: "public", name: "a"), TableName(schema: "auth", name: "users")])
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
