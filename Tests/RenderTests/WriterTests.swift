import Foundation
import Host
import SBSCore
import TestSupport
import Testing

@testable import Render

@Suite("Writing the deploy folder")
struct WriterTests {
    func render(_ golden: GoldenCase) throws -> [RenderedFile] {
        let (input, secrets) = try golden.input()
        return try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
    }

    /// The file's inode and modification time: a file written again (in place or replaced by a rename) differs in
    /// one of them.
    func identity(_ path: String) -> (inode: UInt, seconds: Int, nanoseconds: Int) {
        var info = stat()
        stat(path, &info)
        return (UInt(info.st_ino), info.st_mtim.tv_sec, info.st_mtim.tv_nsec)
    }

    /// Sets the file's modification time to a moment long past: any later write moves it, however coarse the
    /// file system's clock, so no sleep is needed to tell a write from none.
    func backdate(_ path: String) {
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    @Test func writesOnceThenLeavesIdenticalFilesAlone() throws {
        let dir = try TemporaryDirectory()
        let writer = ConfigWriter(deployDirectory: dir.path + "/opt/sbs", backupDirectory: dir.path + "/backups/run-1")
        let files = try render(.recommendedCPU)
        let first = try writer.write(files)
        #expect(first.written == files.map(\.relativePath))
        #expect(first.backedUp.isEmpty)
        #expect(fileMode(dir.path + "/opt/sbs/.env") == 0o600)
        #expect(fileMode(dir.path + "/opt/sbs/backup/backup.sh") == 0o755)
        #expect(fileMode(dir.path + "/opt/sbs/docker-compose.yml") == 0o644)

        let paths = files.map { dir.path + "/opt/sbs/" + $0.relativePath }
        paths.forEach(backdate)
        let before = paths.map(identity)
        let second = try writer.write(try render(.recommendedCPU))
        #expect(second.unchanged == files.map(\.relativePath))
        #expect(second.written.isEmpty && second.backedUp.isEmpty)
        for (path, (old, new)) in zip(paths, zip(before, paths.map(identity))) {
            #expect(old == new, "\(path) was written again")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/backups/run-1"))
    }

    @Test func aChangedFileIsBackedUpFirst() throws {
        let dir = try TemporaryDirectory()
        let deploy = dir.path + "/opt/sbs"
        let original = try render(.recommendedCPU)
        _ = try ConfigWriter(deployDirectory: deploy, backupDirectory: dir.path + "/backups/run-1").write(original)
        let oldCompose = try String(contentsOfFile: deploy + "/docker-compose.yml", encoding: .utf8)
        let oldEnv = try String(contentsOfFile: deploy + "/.env", encoding: .utf8)

        // Same stack, another secret and monitoring off: compose, .env and kong.yml (without Kong's prometheus
        // plugin) change, monitoring files stay as they are.
        let (input, _) = try GoldenCase.recommendedCPU.input()
        var changed = input
        changed.profile.monitoringEnabled = false
        changed.profile.composeProfiles = ["ollama"]
        let files = try ConfigRenderer.render(changed, secrets: fixedSecrets(), templates: Repository.templates())
        let report = try ConfigWriter(deployDirectory: deploy, backupDirectory: dir.path + "/backups/run-2").write(
            files)
        #expect(report.backedUp.sorted() == [".env", "docker-compose.yml", "kong/kong.yml"])
        #expect(report.written.sorted() == [".env", "docker-compose.yml", "kong/kong.yml"])
        #expect(
            try String(contentsOfFile: dir.path + "/backups/run-2/docker-compose.yml", encoding: .utf8) == oldCompose)
        #expect(try String(contentsOfFile: dir.path + "/backups/run-2/.env", encoding: .utf8) == oldEnv)
        #expect(fileMode(dir.path + "/backups/run-2/.env") == 0o600)
        #expect(fileMode(dir.path + "/backups/run-2") == 0o700)
        #expect(FileManager.default.fileExists(atPath: deploy + "/monitoring/prometheus/prometheus.yml"))
    }

    @Test func aWrongModeIsFixedWithoutRewriting() throws {
        let dir = try TemporaryDirectory()
        let writer = ConfigWriter(deployDirectory: dir.path, backupDirectory: dir.path + "/../backups-unused")
        let files = try render(.minimumBasic)
        _ = try writer.write(files)
        chmod(dir.path + "/.env", 0o644)
        let report = try writer.write(files)
        #expect(report.modeFixed == [".env"])
        #expect(fileMode(dir.path + "/.env") == 0o600)
    }

    /// A file a service reads through its group (Alertmanager's configuration): written 0640 with that group; a
    /// group changed by hand is set back without rewriting the file.
    @Test func aFileReadThroughItsGroupGetsItAndKeepsIt() throws {
        let deploy = try Scratch.folder("writer-group")
        let writer = ConfigWriter(deployDirectory: deploy, backupDirectory: deploy + "-backups")
        let file = RenderedFile(
            relativePath: "monitoring/alertmanager/alertmanager.yml", bytes: Array("a: 1\n".utf8), mode: 0o640,
            group: 65534)
        #expect(try writer.write([file]).written == [file.relativePath])
        let path = deploy + "/" + file.relativePath
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_gid == 65534 && info.st_mode & 0o777 == 0o640)
        #expect(chown(path, uid_t.max, 0) == 0)
        backdate(path)
        let before = identity(path)
        #expect(try writer.write([file]).modeFixed == [file.relativePath])
        #expect(stat(path, &info) == 0 && info.st_gid == 65534)
        #expect(identity(path) == before, "the file was written again")
        #expect(try writer.write([file]).unchanged == [file.relativePath])
    }

    @Test func pathsOutsideTheDeployFolderAreRefused() throws {
        let dir = try TemporaryDirectory()
        let writer = ConfigWriter(deployDirectory: dir.path + "/deploy", backupDirectory: dir.path + "/backups")
        for path in ["../escape", "/etc/passwd", "a/../../b", "", "a//b"] {
            #expect(throws: UserError.self) {
                try writer.write([RenderedFile(relativePath: path, bytes: [], mode: 0o644)])
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/deploy"))
    }
}

@Suite("Injection attempts are rejected before anything is written")
struct InjectionTests {
    static let attacks = [
        "shop.example.com\n    location / { return 200; }",
        "shop.example.com; include /etc/shadow",
        "evil\"quote",
        "evil'quote",
        "a b",
        "${JWT_SECRET}",
        "x}",
        "`id`",
        "x#comment",
        "line\r\nbreak",
    ]

    @Test(arguments: attacks)
    func everyFreeTextInputRejectsIt(_ attack: String) throws {
        #expect(throws: UserError.self) { try DomainName(attack) }  // domain, aliases, SMTP host
        // '#' is legal in an address's local part, and harmless where addresses go (double-quoted YAML scalars).
        if attack != "x#comment" {
            // The admin e-mail and the sender.
            #expect(throws: UserError.self) { try EmailAddress("admin" + attack + "@example.com") }
        }
        #expect(throws: UserError.self) { try EmailAddress("admin@" + attack) }
        #expect(throws: UserError.self) { try SafeToken("nginx:alpine" + attack) }  // images, paths, SMTP user
        #expect(throws: UserError.self) { try SafeToken("/etc/sbs/ssl" + attack) }
    }

    @Test func structuralProblemsAreRejectedByTheInput() throws {
        let profile = try Repository.profileTable().choose(
            for: facts(memoryMiB: 15872), request: ProfileChoiceRequest())
        #expect(throws: UserError.self) {
            try makeInput(profile: profile, tls: .acme(directory: try SafeToken("relative/ssl")))
        }
        #expect(throws: UserError.self) { try makeInput(profile: profile, aliases: ["shop.example.com"]) }
        #expect(throws: UserError.self) { try makeInput(profile: profile, httpsPort: 80) }
        var bad = profile
        bad.ollamaModels = ["llama3; rm -rf /"]
        #expect(throws: UserError.self) { try makeInput(profile: bad) }
    }

    @Test func nothingIsWrittenWhenRenderingFails() throws {
        let dir = try TemporaryDirectory()
        let (input, _) = try GoldenCase.minimumBasic.input()
        var secrets = try fixedSecrets()
        #expect(throws: UserError.self) { try secrets.set(.anthropicAPIKey, "sk\nINJECTED=1") }
        try secrets.set(.postgresPassword, "bad@password/with?url#chars")
        #expect(throws: UserError.self) {
            let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
            _ = try ConfigWriter(deployDirectory: dir.path + "/deploy", backupDirectory: dir.path + "/b").write(files)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/deploy"))
    }
}
