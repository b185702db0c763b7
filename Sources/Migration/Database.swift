import Deploy
import FoundationEssentials
import Processes
import SBSCore

/// One side of a migration and how psql (and pg_dump, for the source) reach it: a connection string for programs
/// on this host, or the stack's app-db container (`docker compose exec`, or `docker exec` into its task on a swarm),
/// where psql logs in over the socket.
public struct Database: Sendable {
    public enum Access: Sendable {
        /// libpq's connection string (no password in it: `PGPASSFILE` carries one).
        case connection(String)
        /// The stack's database, as its superuser: `exec` runs a command inside app-db (`ComposeProject.exec`).
        case container(exec: [String], user: String, database: String)
    }

    public var access: Access
    /// How messages name it: "the source (postgres://…)", "this server's database".
    public var name: String

    public init(access: Access, name: String) {
        self.access = access
        self.name = name
    }

    /// The stack's own database: `postgres` in app-db, as `sbs backup` reads it.
    public static func stack(_ project: ComposeProject, runner: any CommandRunner) async throws(UserError) -> Self {
        Self(
            access: .container(
                exec: try await project.exec("app-db", [], runner: runner), user: "postgres", database: "postgres"),
            name: "this server's database")
    }

    public static func source(_ url: SourceURL) -> Self {
        Self(access: .connection(url.connectionString), name: "the source (\(url))")
    }

    /// Separators of psql's unaligned output that no name or number holds (ASCII unit and record separators).
    static let fieldSeparator = "\u{1f}"
    static let recordSeparator = "\u{1e}"

    /// psql with `arguments` after the connection: no psqlrc, never a password prompt, stop at the first error.
    func psql(_ arguments: [String]) -> [String] {
        let common = ["--no-psqlrc", "--no-password", "--quiet", "--set", "ON_ERROR_STOP=1"]
        switch access {
        case .connection(let info):
            return [Self.client("psql"), "--dbname", info] + common + arguments
        case .container(let exec, let user, let database):
            return exec + ["psql", "--username", user, "--dbname", database] + common + arguments
        }
    }

    /// pg_dump with `arguments`; only the source is dumped, by the host's pg_dump.
    func pgDump(_ arguments: [String]) -> [String] {
        switch access {
        case .connection(let info): return [Self.client("pg_dump"), "--no-password", "--dbname", info] + arguments
        case .container(let exec, let user, let database):
            return exec + ["pg_dump", "--username", user, "--dbname", database] + arguments
        }
    }

    /// A client program of the newest PostgreSQL installed (`/usr/lib/postgresql/N/bin`, where Debian and Ubuntu put
    /// them), as Debian's `/usr/bin` wrapper would choose it without starting Perl each time; else the name, from
    /// the PATH.
    static func client(_ name: String) -> String { clientDirectory.map { $0 + "/" + name } ?? name }

    static let clientDirectory: String? = {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init)
        return versions.sorted().reversed().map { "\(base)/\($0)/bin" }.first {
            FileManager.default.isExecutableFile(atPath: $0 + "/psql")
                && FileManager.default.isExecutableFile(atPath: $0 + "/pg_dump")
        }
    }()

    /// The settings every session of a migration starts with, so that values print the same on both sides (the
    /// checksums compare their text).
    static let sessionSettings = [
        "SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, MDY'", "SET IntervalStyle = 'postgres'",
        "SET extra_float_digits = 3", "SET bytea_output = 'hex'", "SET search_path = pg_catalog",
    ]

    /// Runs `statements` (each its own `-c`) and returns the rows they printed, as fields: one statement should
    /// print rows (psql ends the rows of each statement with a line break, not the record separator).
    /// - Throws: `UserError` with psql's message when psql fails.
    func query(_ statements: [String], runner: any CommandRunner, timeout: Duration = .seconds(600))
        async throws(UserError) -> [[String]]
    {
        var arguments = [
            "--tuples-only", "--no-align", "--field-separator", Self.fieldSeparator,
            "--record-separator", Self.recordSeparator,
        ]
        // The settings in one round trip, then each statement.
        for statement in [Self.sessionSettings.joined(separator: "; ")] + statements {
            arguments += ["--command", statement]
        }
        let result = try await runner.run(psql(arguments), timeout: timeout)
        guard result.status == 0 else { throw failure(result, doing: "a query") }
        return result.stdout.split(separator: Character(Self.recordSeparator), omittingEmptySubsequences: true)
            .map { record in
                let line = record.hasSuffix("\n") ? record.dropLast() : record[...]
                return line.split(separator: Character(Self.fieldSeparator), omittingEmptySubsequences: false)
                    .map(String.init)
            }
            .filter { !($0.count == 1 && $0[0].isEmpty) }
    }

    /// Whether libpq's message says that the server wants a password that was not given (or not accepted).
    static func asksForPassword(_ stderr: String) -> Bool {
        stderr.contains("no password supplied") || stderr.contains("password authentication failed")
    }

    /// The error for a psql or pg_dump run that failed, with its last lines and what to do.
    func failure(_ result: CommandResult, doing what: String) -> UserError {
        let said = result.stderr.lastLines(4)
        if result.status == 127 {
            return UserError(
                "\(result.stderr.trimmed): sbs migrate needs PostgreSQL's client programs (psql, pg_dump) on this host.",
                remedy: "Install them: apt-get install postgresql-client.")
        }
        if result.timedOut { return UserError("\(name) did not finish \(what) in time: \(said)") }
        if Self.asksForPassword(result.stderr) {
            return UserError(
                "\(name) asks for a password: \(said)",
                remedy:
                    "Give it with --password env:NAME or --password file:PATH, or run sbs migrate on a terminal to type it."
            )
        }
        return UserError(
            "\(name) failed \(what) (exit \(result.status)): \(said)",
            remedy: "Check that \(name) is reachable, then run `sbs migrate` again: it goes on where it stopped.")
    }
}

/// SQL quoting: an identifier and a string literal.
enum SQL {
    static func identifier(_ name: String) -> String {
        "\"" + name.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    /// `text` as a dollar-quoted string, its tag one that `text` does not contain.
    static func dollarQuoted(_ text: String) -> String {
        var tag = "$sbs$"
        var number = 0
        while text.contains(tag) {
            number += 1
            tag = "$sbs\(number)$"
        }
        return tag + text + tag
    }

    static func literal(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
    }
}
