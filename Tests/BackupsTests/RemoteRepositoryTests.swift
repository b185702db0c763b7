import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Backups
@testable import Processes

/// Backups into the repositories that ask for credentials, against real servers on loopback: restic's REST
/// protocol as rclone serves it (`rclone serve restic`, with a login), and S3 as moto serves it
/// (scripts/test/s3-server.py). restic reads the credentials from the 0600 file `RepositoryCredentials` writes;
/// no secret is in any argv or environment.
@Suite("Backups into REST and S3 repositories")
struct RemoteRepositoryTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// A server process, stopped (its process group killed) when the test ends.
    final class Server {
        let pid: pid_t
        init(_ argv: [String]) throws {
            pid = try #require(spawnQuietly(argv, ownProcessGroup: true))
        }
        deinit {
            kill(-pid, SIGKILL)
            _ = waitForExit(pid)
        }
    }

    /// The fixture's restic for `repository` with `credentials` written into its folder.
    static func restic(_ repository: String, _ credentials: RepositoryCredentials?, dir: String) throws -> Restic {
        let checked = try BackupRepository(repository)
        return try Restic(
            location: checked.value, passwordCommand: ["cat", dir + "/password"], cacheDirectory: dir + "/cache",
            access: try credentials?.write(for: checked, in: dir + "/access"))
    }

    /// No argv restic is started with holds the secret; the file that does is 0600 in a 0700 folder.
    static func expectSecretOnlyInItsFile(_ restic: Restic, secret: String) throws {
        let argv = restic.command(["snapshots"])
        #expect(!argv.contains { $0.contains(secret) }, "\(argv)")
        let path = try #require(restic.access?.path)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains(secret))
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
        #expect(stat((path as NSString).deletingLastPathComponent, &status) == 0 && status.st_mode & 0o777 == 0o700)
    }

    /// What sbs writes restic reads back as written: the REST URL's user and password decode to the values
    /// (over generated printable passwords), the S3 file's keys parse as an INI section; two repositories' files
    /// never share a name.
    @Test func theCredentialsFilesReadBackAsGiven() throws {
        var generator = SeededGenerator(seed: 17)
        let repository = try BackupRepository("rest:https://backup.example.com:8000/sbs/")
        for _ in 0..<300 {
            let password = String(
                (0..<Int.random(in: 1...40, using: &generator)).map { _ in
                    Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &generator)))
                } + (Bool.random(using: &generator) ? "é€" : ""))
            let text = RepositoryCredentials.rest(user: "shop-backup", password: password).fileText(for: repository)
            #expect(text.hasPrefix("rest:https://") && text.hasSuffix("\n"))
            let url = try #require(URL(string: String(text.dropFirst("rest:".count).dropLast())), "\(text)")
            #expect(url.user(percentEncoded: false) == "shop-backup")
            #expect(url.password(percentEncoded: false) == password, "\(text)")
            #expect(url.host() == "backup.example.com" && url.port == 8000 && url.path() == "/sbs/")
        }
        let s3 = try BackupRepository("s3:https://s3.example.com/acme/sbs")
        let keys = try RepositoryCredentials.checkedS3(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+")
        var section = ""
        var values: [String: String] = [:]
        for line in keys.fileText(for: s3).split(separator: "\n") {
            if line.hasPrefix("[") {
                section = String(line)
                continue
            }
            let pair = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            values[section + pair[0]] = pair[1]
        }
        #expect(
            values == [
                "[default]aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "[default]aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+",
            ])
        for bad in ["", "a b", "a#b", "a;b", "a\"b", "a=b", "a\nb"] {
            #expect(throws: UserError.self) {
                try RepositoryCredentials.checkedS3(accessKeyID: "A", secretAccessKey: bad)
            }
        }
        #expect(
            RepositoryCredentials.fileName(for: "s3:https://a.example/b1")
                != RepositoryCredentials.fileName(for: "s3:https://a.example/b2"))
        #expect(RepositoryCredentials.fileName(for: s3.value).hasPrefix("s3-"))
        // Credentials of the other kind are refused, not written.
        #expect(throws: UserError.self) {
            try keys.write(for: repository, in: try Scratch.folder("credentials-kind"))
        }
    }

    @Test(.requires("restic", "rclone", install: "apt-get install -y restic rclone"), .timeLimit(.minutes(3)))
    func aBackupGoesToARESTServerWithItsLoginAndAWrongLoginIsSaidSo() async throws {
        let port = try freeLoopbackPort()
        let served = try Scratch.folder("rest-served")
        // Characters a URL must escape, in the password restic's URL carries.
        let password = "p@ss:w/rd%20?#&é"
        let server = try Server([
            "rclone", "serve", "restic", "--addr", "127.0.0.1:\(port)", "--user", "sbs", "--pass", password, served,
        ])
        try await waitForListener(port)
        let repository = "rest:http://127.0.0.1:\(port)/shop/"
        let fixture = try BackupJobTests.Fixture { dir in
            try Self.restic(repository, .rest(user: "sbs", password: password), dir: dir)
        }
        try Self.expectSecretOnlyInItsFile(fixture.restic, secret: RepositoryCredentials.percentEncoded(password))
        try fixture.setState(wal: "0/1A")

        let first = try await fixture.job(run: "20261201T031500Z").run()
        #expect(first.parts.map(\.name) == ["db/globals.sql", "db/app.dump", "db/postgres.dump", "files"])
        #expect(
            try await BackupCatalog(restic: fixture.restic, runner: fixture.runner).entries().map(\.manifest) == [first]
        )
        let files = try #require(first.parts.first { $0.name == "files" })
        #expect(
            try await fixture.restic(["dump", files.snapshot, fixture.dir + "/etc/file"]).stdout == "kept in etc\n")
        // The repository is on the server's disk, not in the fixture's folder.
        #expect(FileManager.default.fileExists(atPath: served + "/shop/config"))

        // A wrong password, and none: the server refuses, the message says it is the credentials.
        for credentials in [RepositoryCredentials.rest(user: "sbs", password: "wrong"), nil] {
            let wrong = try BackupJobTests.Fixture { dir in try Self.restic(repository, credentials, dir: dir) }
            try wrong.setState(wal: "0/1B")
            let error = await #expect(throws: UserError.self) { try await wrong.job(run: "20261202T031500Z").run() }
            #expect(error?.message.contains("refused restic's credentials") == true, "\(error?.message ?? "")")
        }
        withExtendedLifetime(server) {}
    }

    /// The S3 server and the keys it made.
    static func s3Server(auth: Bool) async throws -> (Server, port: Int, id: String, secret: String) {
        let port = try freeLoopbackPort()
        let keys = try Scratch.folder("s3") + "/keys.json"
        let server = try Server(
            ["python3", repositoryRoot + "/scripts/test/s3-server.py", String(port), keys] + (auth ? ["--auth"] : []))
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: keys) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let data = try #require(FileManager.default.contents(atPath: keys), "the S3 server did not start in 30 s")
        let made = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
        return (server, port, try #require(made["access_key_id"]), try #require(made["secret_access_key"]))
    }

    static var motoInstalled: Bool {
        guard let pid = spawnQuietly(["python3", "-c", "import moto.server, boto3"]) else { return false }
        return waitForExit(pid) == 0
    }

    @Test(
        .requires("restic", install: "apt-get install -y restic"),
        .requires("moto is not installed (pip install 'moto[server]')", when: RemoteRepositoryTests.motoInstalled),
        .timeLimit(.minutes(3)))
    func aBackupGoesToS3StorageWithTheKeysFromItsFile() async throws {
        // The whole backup, listed and read back.
        let (server, port, id, secret) = try await Self.s3Server(auth: false)
        let repository = "s3:http://127.0.0.1:\(port)/sbs-backups/shop"
        let fixture = try BackupJobTests.Fixture { dir in
            try Self.restic(repository, try .checkedS3(accessKeyID: id, secretAccessKey: secret), dir: dir)
        }
        try Self.expectSecretOnlyInItsFile(fixture.restic, secret: secret)
        try fixture.setState(wal: "0/1A")
        let first = try await fixture.job(run: "20261201T031500Z").run()
        #expect(
            try await BackupCatalog(restic: fixture.restic, runner: fixture.runner).entries().map(\.manifest) == [first]
        )
        let app = try #require(first.parts.first { $0.name == "db/app.dump" })
        #expect(try await fixture.restic(["dump", app.snapshot, "/db/app.dump"]).stdout == "PGDMP dump of app\n")
        withExtendedLifetime(server) {}
    }

    /// Against a server that checks every request's signature: the key from the file makes the repository, a
    /// wrong one is refused and said so. (Opening a repository lists its keys, which moto's check refuses for
    /// any key: see s3-server.py; the whole backup runs in the test above.)
    @Test(
        .requires("restic", install: "apt-get install -y restic"),
        .requires("moto is not installed (pip install 'moto[server]')", when: RemoteRepositoryTests.motoInstalled),
        .timeLimit(.minutes(3)))
    func anS3ServerThatChecksSignaturesTakesTheKeyAndRefusesAWrongOne() async throws {
        let (server, port, id, secret) = try await Self.s3Server(auth: true)
        let repository = "s3:http://127.0.0.1:\(port)/sbs-backups/shop"
        let runner = SystemCommandRunner()
        let dir = try Scratch.folder("s3-auth")
        try "correct horse battery staple\n".write(toFile: dir + "/password", atomically: true, encoding: .utf8)
        let good = try Self.restic(repository, try .checkedS3(accessKeyID: id, secretAccessKey: secret), dir: dir)
        // restic init stats the config, then writes it and the key: each a signed request the server checks.
        let made = try await runner.run(good.command(["init"]), timeout: .seconds(60))
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("created restic repository"), "\(made.stdout)")

        let wrongKey = String(secret.reversed())
        let bad = try Self.restic(
            repository + "-other", try .checkedS3(accessKeyID: id, secretAccessKey: wrongKey), dir: dir)
        let refused = try await runner.run(bad.command(["init"]), timeout: .seconds(60))
        #expect(refused.status != 0)
        let error = Restic.failure("Opening the repository", status: refused.status, stderr: refused.stderr)
        #expect(error.message.contains("refused restic's credentials"), "\(error.message)")
        withExtendedLifetime(server) {}
    }
}
