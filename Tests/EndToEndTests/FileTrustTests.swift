import Foundation
import Processes
import TestSupport
import Testing

/// Runs the built `sbs` under `timeout -s KILL`: a run that hangs (on a FIFO, say) is killed and ends with
/// `killedByTimeout` instead of hanging the test.
/// The status `timeout -s KILL` reports for a command it had to kill: 128 + SIGKILL (not 124, which it reports
/// for a command ended by its default TERM).
let killedByTimeout: Int32 = 137

func sbsWithin(_ seconds: Int, _ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
    try await onOwnThread {
        Result {
            let process = sbsProcess(arguments, environment: environment)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments = ["-s", "KILL", "\(seconds)", sbsBinary] + arguments
            return try runCapturing(process)
        }
    }.get()
}

private func fifo(_ path: String) throws {
    try? FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    guard mkfifo(path, 0o600) == 0 else { throw CocoaError(.fileWriteUnknown) }
}

private func link(_ path: String, to target: String) throws {
    try? FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
}

/// Every file sbs reads is a regular file under a size cap fitting its kind, checked on the open descriptor: a FIFO,
/// a device or a huge file is refused at once, naming the path (and the cap), never read until memory runs out.
@Suite struct ReadsThatHangOrBlowUp {
    @Test func aFIFOInPlaceOfSecretsOrStateIsRefusedAtOnce() async throws {
        let root = scratchDirectory("fifo-secrets")
        try fifo(root + "/etc/sbs/secrets.env")
        let show = try await sbsWithin(20, ["secrets", "show", "--root", root])
        #expect(show.status != killedByTimeout, "secrets show hung on a FIFO secrets.env")
        #expect(show.status != 0)
        #expect(
            show.stderr.contains(root + "/etc/sbs/secrets.env") && show.stderr.contains("not a regular file"),
            "\(show.stderr)")

        let stateRoot = scratchDirectory("fifo-state")
        try fifo(stateRoot + "/var/lib/sbs/state.json")
        for command in [["status"], ["plan"]] {
            let run = try await sbsWithin(20, command + ["--root", stateRoot])
            #expect(run.status != killedByTimeout, "\(command[0]) hung on a FIFO state.json")
            #expect(run.status != 0)
            #expect(
                run.stderr.contains(stateRoot + "/var/lib/sbs/state.json") && run.stderr.contains("not a regular file"),
                "\(command[0]): \(run.stderr)")
        }
    }

    @Test func anInstallRefusesAFIFOSecretsFileOrCertificateAndADeviceAsCABundle() async throws {
        let host = try fixtureHost()
        let root = scratchDirectory("fifo-install")
        try writeAnswers(root + "/site.yaml")
        try fifo(root + "/etc/sbs/secrets.env")
        let install = try await sbsWithin(
            60,
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "generate-secrets",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(install.status != killedByTimeout, "install hung on a FIFO secrets.env")
        #expect(install.status != 0)
        #expect(install.stderr.contains(root + "/etc/sbs/secrets.env"), "\(install.stderr)")

        let certRoot = scratchDirectory("fifo-cert")
        try fifo(certRoot + "/in/cert.pem")
        try fifo(certRoot + "/in/key.pem")
        try """
        version: 1
        domain: shop.example.test
        admin_email: admin@example.test
        tls:
          mode: files
          cert_file: \(certRoot)/in/cert.pem
          key_file: \(certRoot)/in/key.pem
        checks:
          dns: skip
        """.write(toFile: certRoot + "/site.yaml", atomically: true, encoding: .utf8)
        let files = try await sbsWithin(
            60,
            [
                "install", "--answers", certRoot + "/site.yaml", "--non-interactive", "--through", "generate-secrets",
                "--root", certRoot + "/r", "--sysroot", host,
            ])
        #expect(files.status != killedByTimeout, "install hung on a FIFO tls.cert_file")
        #expect(files.status != 0)
        #expect(files.stderr.contains(certRoot + "/in/cert.pem"), "\(files.stderr)")

        let zeroRoot = scratchDirectory("zero-bundle")
        try writeAnswers(zeroRoot + "/site.yaml", extra: "")
        let answers = try #require(read(zeroRoot + "/site.yaml")).replacingOccurrences(
            of: "  mode: acme\n", with: "  mode: acme\n  acme_ca_bundle: /dev/zero\n")
        try answers.write(toFile: zeroRoot + "/site.yaml", atomically: true, encoding: .utf8)
        let zero = try await sbsWithin(
            60,
            [
                "install", "--answers", zeroRoot + "/site.yaml", "--non-interactive", "--through", "generate-secrets",
                "--root", zeroRoot + "/r", "--sysroot", host,
            ], environment: testEnvironment)
        #expect(
            zero.status != killedByTimeout && !zero.stderr.contains("failed to allocate"), "\(zero.stderr.suffix(300))")
        #expect(zero.status == 2 || zero.status == 1, "\(zero.status)")
        #expect(zero.stderr.contains("/dev/zero") && zero.stderr.contains("not a regular file"), "\(zero.stderr)")
    }

    @Test func aSecretsFileLinkedToADeviceOrLargerThanItsCapIsRefusedNamingTheCap() async throws {
        let root = scratchDirectory("zero-secrets")
        try link(root + "/etc/sbs/secrets.env", to: "/dev/zero")
        let linked = try await sbsWithin(20, ["secrets", "show", "--root", root])
        #expect(
            linked.status != killedByTimeout && !linked.stderr.contains("failed to allocate"),
            "\(linked.stderr.suffix(300))")
        #expect(linked.status == 1, "\(linked.status)")
        #expect(linked.stderr.contains(root + "/etc/sbs/secrets.env"), "\(linked.stderr)")

        let huge = scratchDirectory("huge-secrets")
        try FileManager.default.createDirectory(atPath: huge + "/etc/sbs", withIntermediateDirectories: true)
        // A sparse gigabyte: no disk used, but a reader that reads it whole needs the memory.
        let fd = open(huge + "/etc/sbs/secrets.env", O_WRONLY | O_CREAT, 0o600)
        #expect(ftruncate(fd, 1 << 30) == 0)
        close(fd)
        // Refused by its size before it is read (the message names the cap); no timed assertion, which a loaded
        // machine fails: the 30 s limit is the bound, and a reader that read the gigabyte would not say the cap.
        let big = try await sbsWithin(30, ["secrets", "show", "--root", huge])
        #expect(big.status != killedByTimeout)
        #expect(big.status == 1, "\(big.status)")
        #expect(
            big.stderr.contains(huge + "/etc/sbs/secrets.env") && big.stderr.contains("larger than 1 MiB"),
            "\(big.stderr)")
    }
}

/// `secrets.env` as Windows or another encoding leaves it: CRLF is a line end, a byte that is not UTF-8 is refused
/// by line number, and the values an install keeps are exactly the bytes that were there.
@Suite struct SecretsFileEncoding {
    @Test func aSecretsFileWithCRLFLineEndsKeepsItsSecretsThroughAnInstallWithoutDotEnv() async throws {
        let host = try fixtureHost()
        let root = scratchDirectory("crlf")
        try writeAnswers(root + "/site.yaml")
        let arguments = [
            "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
            "--root", root, "--sysroot", host,
        ]
        let first = try await sbsWithin(120, arguments, environment: testEnvironment)
        #expect(first.status == 0, "\(first.stderr)")
        let path = root + "/etc/sbs/secrets.env"
        let original = try #require(read(path))
        let crlf = original.replacingOccurrences(of: "\n", with: "\r\n")
        try crlf.write(toFile: path, atomically: true, encoding: .utf8)
        let list = try await sbsWithin(20, ["secrets", "show", "--root", root])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(
            list.stdout.contains("  POSTGRES_PASSWORD\n") && list.stdout.contains("  JWT_SECRET\n"), "\(list.stdout)")
        let password = try #require(
            original.split(separator: "\n").first { $0.hasPrefix("POSTGRES_PASSWORD=") }?.dropFirst(18))
        let one = try await sbsWithin(20, ["secrets", "show", "POSTGRES_PASSWORD", "--root", root])
        #expect(one.stdout == password + "\n")

        try FileManager.default.removeItem(atPath: root + "/opt/sbs/.env")
        let again = try await sbsWithin(120, arguments, environment: testEnvironment)
        #expect(again.status == 0, "\(again.stderr)")
        // Nothing was generated anew: the values are the ones kept (the file may keep its CRLF ends), and the
        // deploy .env written again carries the same database password.
        let kept = try #require(read(path)).replacingOccurrences(of: "\r\n", with: "\n")
        for line in original.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(kept.contains(line + "\n"), "\(line.prefix(20))… was not kept")
        }
        #expect(!again.stderr.contains("generated POSTGRES"), "\(again.stderr)")
        #expect(read(root + "/opt/sbs/.env")?.contains("POSTGRES_PASSWORD='\(password)'\n") == true)
    }

    @Test func aByteThatIsNotUTF8IsRefusedByLineAndNeverWrittenBack() async throws {
        let root = scratchDirectory("latin1")
        try FileManager.default.createDirectory(atPath: root + "/etc/sbs", withIntermediateDirectories: true)
        var bytes = Array("# kept\nGRAFANA_ADMIN_PASSWORD=caf".utf8) + [0xE9] + Array("-password-1\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/etc/sbs/secrets.env"))
        chmod(root + "/etc/sbs/secrets.env", 0o600)
        let show = try await sbsWithin(20, ["secrets", "show", "GRAFANA_ADMIN_PASSWORD", "--root", root])
        #expect(show.status == 1)
        #expect(show.stderr.contains("Line 2 of \(root)/etc/sbs/secrets.env is not UTF-8"), "\(show.stderr)")
        #expect(!show.stdout.contains("\u{FFFD}"))

        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        let install = try await sbsWithin(
            60,
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "generate-secrets",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(install.status != 0)
        bytes = Array(bytes)
        #expect(
            FileManager.default.contents(atPath: root + "/etc/sbs/secrets.env") == Data(bytes),
            "secrets.env was rewritten")
    }
}

/// Runs `script` with sh as the unprivileged user `nobody` (setpriv), and returns its exit status.
@discardableResult
func asNobody(_ script: String) -> Int32 {
    spawnAndWait(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "sh", "-c", script])
}

/// A root, or a folder sbs writes into, that another user can change is refused: sbs would write its secrets and
/// configs through that user's links, or read back that user's files.
@Suite(.serialized) struct TrustInFoldersOthersCanWrite {
    @Test func aRootOwnedByAnotherUserIsRefusedAndItsPlantedSecretsAreNotAdopted() async throws {
        try Integration.require(tools: "setpriv")
        let host = try fixtureHost()
        let dir = scratchDirectory("planted")
        try writeAnswers(dir + "/site.yaml")
        let root = dir + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        #expect(chown(root, 65534, 65534) == 0)
        let planted = "JWT_SECRET=known-to-nobody-0123456789abcdef0123456789abcdef"
        #expect(
            asNobody(
                "mkdir -p '\(root)/etc/sbs' && printf '%s\\n' '\(planted)' > '\(root)/etc/sbs/secrets.env' && chmod 600 '\(root)/etc/sbs/secrets.env'"
            ) == 0)
        let install = try await sbsWithin(
            60,
            [
                "install", "--answers", dir + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(install.status != 0, "an install adopted a root that nobody owns")
        #expect(
            install.stderr.contains(root) && install.stderr.contains("not to root or the user running sbs"),
            "\(install.stderr)")
        #expect(read(root + "/etc/sbs/secrets.env") == planted + "\n")
        #expect(!FileManager.default.fileExists(atPath: root + "/opt/sbs/.env"))
        let show = try await sbsWithin(20, ["secrets", "show", "JWT_SECRET", "--root", root])
        #expect(show.status != 0)
        #expect(!show.stdout.contains("known-to-nobody"))
    }

    @Test func aLinkAnotherUserPutsInAWritableFolderOfTheRootIsNotWrittenThrough() async throws {
        try Integration.require(tools: "setpriv")
        let host = try fixtureHost()
        let dir = scratchDirectory("victim")
        try writeAnswers(dir + "/site.yaml")
        let root = dir + "/root"
        let victim = dir + "/victim"
        try FileManager.default.createDirectory(atPath: root + "/opt", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        chmod(root + "/opt", 0o777)
        chmod(victim, 0o777)
        #expect(asNobody("ln -s '\(victim)' '\(root)/opt/sbs'") == 0)
        let install = try await sbsWithin(
            60,
            [
                "install", "--answers", dir + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(install.status != 0, "the install wrote through nobody's link")
        #expect(install.stderr.contains(root + "/opt"), "\(install.stderr)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: victim)).isEmpty, "written into the victim folder")

        // A root writable by every user (sticky or not) is refused as well, before anything is written in it.
        let open = dir + "/open"
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        chmod(open, 0o1777)
        let sticky = try await sbsWithin(
            60,
            [
                "install", "--answers", dir + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", open, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(sticky.status != 0)
        #expect(
            sticky.stderr.contains(open) && sticky.stderr.contains("can be written by every user"), "\(sticky.stderr)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: open)).isEmpty)
    }
}
