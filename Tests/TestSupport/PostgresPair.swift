import Foundation
import Processes
import SBSCore
import Testing

/// The `NAME=value` lines an environment script prints (pebble-env.sh, stepca-env.sh, pg-pair.sh).
public func scriptValues(printed output: String) -> [String: String] {
    var values: [String: String] = [:]
    for line in output.split(separator: "\n") {
        guard let equals = line.firstIndex(of: "=") else { continue }
        values[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    return values
}

extension Trait where Self == ConditionTrait {
    /// Gate for the tests that run two real PostgreSQL servers (scripts/test/pg-pair.sh).
    public static var postgresPair: Self {
        .requires(
            "/usr/lib/postgresql/15/bin/postgres", "psql", "pg_dump", "python3", "setpriv",
            install: "apt-get install -y postgresql-15 postgresql-client-15 python3 util-linux")
    }
}

/// Two real PostgreSQL 15 servers on loopback (scripts/test/pg-pair.sh): "source", seeded as a hosted Supabase
/// project (Tests/Fixtures/migrate/source.sql, `rows` events), and "target", seeded as the server's own database
/// before a migration. Stopped by `stop()`.
public final class PostgresPair: Sendable {
    public static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/scripts/test/pg-pair.sh"
    }()

    public static var targetSQL: String {
        URL(fileURLWithPath: script).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .path + "/Tests/Fixtures/migrate/target.sql"
    }

    public let dir: String
    public let values: [String: String]

    public var sourceURL: String { values["SOURCE_URL"] ?? "" }
    public var sourcePort: Int { Int(values["SOURCE_PORT"] ?? "") ?? 0 }
    public var targetPort: Int { Int(values["TARGET_PORT"] ?? "") ?? 0 }
    public var passwordFile: String { values["SOURCE_PASSWORD_FILE"] ?? "" }
    public var socketDirectory: String { values["SOCKET_DIR"] ?? "" }
    /// The target's URL for `database` (logging in without a password).
    public func targetURL(_ database: String = "postgres") -> String {
        "postgres://postgres@127.0.0.1:\(targetPort)/\(database)"
    }

    init(dir: String, values: [String: String]) {
        self.dir = dir
        self.values = values
    }

    /// Starts and seeds a pair (in a short folder under /tmp: the sockets' paths have a length limit).
    public static func start(rows: Int) async throws -> PostgresPair {
        var template = Array("/tmp/sbs-pg.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw UserError("mkdtemp failed") }
        let dir = String(cString: made)
        let runner = SystemCommandRunner()
        let started = try await runner.run([script, "start", dir], timeout: .seconds(120))
        guard started.status == 0 else {
            _ = try? await runner.run([script, "stop", dir], timeout: .seconds(60))
            throw UserError("pg-pair.sh start failed: \(started.stderr)")
        }
        let pair = PostgresPair(dir: dir, values: scriptValues(printed: started.stdout))
        let seeded = try await runner.run([script, "seed", dir, String(rows)], timeout: .seconds(600))
        guard seeded.status == 0 else {
            await pair.stop()
            throw UserError("pg-pair.sh seed failed: \(seeded.stderr)")
        }
        return pair
    }

    public func stop() async {
        _ = try? await SystemCommandRunner().run([Self.script, "stop", dir], timeout: .seconds(60))
        try? FileManager.default.removeItem(atPath: dir)
    }

    public enum Side: Sendable { case source, target }

    /// Runs `sql` on a side's `database` over its socket (no password) and returns what psql printed, unaligned.
    /// - Throws: `UserError` with psql's message when it fails.
    @discardableResult
    public func psql(_ side: Side, _ sql: String, database: String = "postgres") async throws -> String {
        let port = side == .source ? sourcePort : targetPort
        let result = try await SystemCommandRunner().run(
            [
                "psql", "--no-psqlrc", "-h", socketDirectory, "-p", String(port), "-U", "postgres", "-d", database,
                "-v", "ON_ERROR_STOP=1", "-Atq", "-c", sql,
            ], timeout: .seconds(600))
        guard result.status == 0 else { throw UserError("psql on the \(side): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A new database on the target, seeded as a server's before a migration (target.sql).
    public func makeTargetDatabase(_ name: String) async throws {
        try await psql(.target, "CREATE DATABASE \(name)")
        let result = try await SystemCommandRunner().run(
            [
                "psql", "--no-psqlrc", "-h", socketDirectory, "-p", String(targetPort), "-U", "postgres", "-d", name,
                "-v", "ON_ERROR_STOP=1", "-q", "-f", Self.targetSQL,
            ], timeout: .seconds(120))
        guard result.status == 0 else { throw UserError("target.sql into \(name): \(result.stderr)") }
    }
}
