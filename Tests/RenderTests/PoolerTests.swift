import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Render

/// The swarm's app-pooler as it runs, without Docker: Debian's PgBouncer (the program of the stand-in image) with the
/// rendered `pooler/pgbouncer.ini` and the user list written by the stack file's entrypoint script, in front of a
/// real PostgreSQL that wants SCRAM (scripts/test/pg-pair.sh's source). Only the addresses are changed: app-db's
/// becomes the source's, the listening port a free one of 127.0.0.1, the user list a scratch file.
@Suite(
    .postgresPair,
    .requires("/usr/sbin/pgbouncer", "setpriv", install: "apt-get install -y pgbouncer util-linux"),
    .timeLimit(.minutes(5)))
struct PoolerTests {
    @Test("clients log in with the password through PgBouncer; more clients than its pool share the pool's connections")
    func pgbouncerPoolsARealPostgreSQL() async throws {
        var (input, secrets) = try SwarmStackTests.input(apiReplicas: 2)
        // A pool of 5 (a quarter of 20): 12 clients at once must share it.
        input.profile.postgres.maxConnections = 20
        let files = try SwarmStackTests.render(input, secrets)
        let ini = try #require(files["pooler/pgbouncer.ini"]).text
        let services = try SwarmStackTests.services(
            try SwarmStackTests.yaml(try #require(files["docker-stack.yml"]).text))
        let entrypoint = try #require(services["app-pooler"]?["entrypoint"] as? [String])
        let command = try #require(services["app-pooler"]?["command"] as? [String])
        #expect(command.first == "pgbouncer")
        let poolSize = try #require(try SwarmStackTests.ini(ini)["pgbouncer"]?["default_pool_size"])
        let pool = try #require(Int(poolSize))
        #expect(pool == 5)

        let pair = try await PostgresPair.start(rows: 10)
        do { try await Self.run(ini: ini, entrypoint: entrypoint, pool: pool, in: pair) } catch {
            await pair.stop()
            throw error
        }
        await pair.stop()
    }

    /// PgBouncer started as the stack starts it, in front of the pair's source; the clients through it.
    static func run(ini: String, entrypoint: [String], pool: Int, in pair: PostgresPair) async throws {
        // Readable by postgres, as whom PgBouncer runs (it refuses root).
        let dir = try TemporaryDirectory()
        _ = RealTools.run(["chown", "postgres:postgres", dir.path])
        let password = try String(contentsOfFile: pair.passwordFile, encoding: .utf8)
        let secretFile = dir.path + "/POSTGRES_PASSWORD"
        try Data(password.utf8).write(to: URL(fileURLWithPath: secretFile))
        _ = RealTools.run(["chown", "postgres:postgres", secretFile])
        let port = try freePort()
        var local = ini
        for (from, to) in [
            ("* = host=app-db port=5432", "* = host=127.0.0.1 port=\(pair.sourcePort)"),
            ("listen_addr = 0.0.0.0", "listen_addr = 127.0.0.1"), ("listen_port = 6432", "listen_port = \(port)"),
            ("auth_file = /tmp/userlist.txt", "auth_file = \(dir.path)/userlist.txt"),
        ] {
            #expect(local.contains(from), "the rendered file says \(from)")
            local = local.replacing(from, with: to)
        }
        try Data(local.utf8).write(to: URL(fileURLWithPath: dir.path + "/pgbouncer.ini"))
        let script = entrypoint[2].replacing("$$", with: "$")
            .replacing("/run/secrets/POSTGRES_PASSWORD", with: secretFile)
            .replacing("/tmp/userlist.txt", with: dir.path + "/userlist.txt")

        // The entrypoint's shell, then PgBouncer, as the stack runs them.
        let pooler = Process()
        pooler.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        pooler.arguments = [
            "--reuid=postgres", "--regid=postgres", "--clear-groups", "/bin/sh", "-c", script, "sbs-secrets",
            "/usr/sbin/pgbouncer", dir.path + "/pgbouncer.ini",
        ]
        let log = Pipe()
        pooler.standardOutput = log
        pooler.standardError = log
        try pooler.run()
        // SIGKILL: the child inherits the signals this test process blocks (SIGTERM among them).
        defer {
            kill(pooler.processIdentifier, SIGKILL)
            pooler.waitUntilExit()
        }
        var ready = false
        for _ in 0..<100 where !ready {
            ready = RealTools.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", String(port)]).status == 0
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(ready && pooler.isRunning, "PgBouncer did not start")

        // 12 clients at once, each holding a server connection for 0.5 s: all answered, by at most 5 backends.
        let url = "postgresql://postgres@127.0.0.1:\(port)/postgres"
        let passfile = dir.path + "/pgpass"
        try Data("127.0.0.1:\(port):*:postgres:\(password)\n".utf8).write(to: URL(fileURLWithPath: passfile))
        _ = RealTools.run(["chmod", "600", passfile])
        let clients = RealTools.run([
            "bash", "-c",
            "for i in $(seq 1 12); do PGPASSFILE=\(passfile) psql -X -Atc 'SELECT pg_backend_pid() FROM pg_sleep(0.5)' '\(url)' & done; wait",
        ])
        let pids = clients.output.split(separator: "\n").compactMap { Int($0) }
        #expect(pids.count == 12, "\(clients.output)")
        #expect(Set(pids).count <= pool, "\(Set(pids).count) server connections for a pool of \(pool)")
        // The server sees them come from PgBouncer, logged in as postgres.
        let seen = RealTools.run([
            "bash", "-c",
            "PGPASSFILE=\(passfile) psql -X -Atc \"SELECT current_user, current_setting('port') FROM pg_stat_activity LIMIT 1\" '\(url)'",
        ])
        #expect(seen.output.trimmingCharacters(in: .whitespacesAndNewlines) == "postgres|\(pair.sourcePort)")

        // A wrong password is refused by PgBouncer itself.
        let wrong = dir.path + "/wrong"
        try Data("127.0.0.1:\(port):*:postgres:not-the-password\n".utf8).write(to: URL(fileURLWithPath: wrong))
        _ = RealTools.run(["chmod", "600", wrong])
        let refused = RealTools.run(["bash", "-c", "PGPASSFILE=\(wrong) psql -X -Atc 'SELECT 1' '\(url)'"])
        #expect(refused.status != 0 && refused.output.contains("SASL authentication failed"), "\(refused.output)")
        #expect(pooler.isRunning, "PgBouncer ran all along")
    }

    static func freePort() throws -> Int {
        let found = RealTools.run([
            "python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
        ])
        return try #require(Int(found.output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
}
