import Foundation
import Processes
import SBSCore
import Synchronization
import TestSupport
import Testing

@testable import SBSCore

@Suite struct Redaction {
    @Test func everyKnownSecretIsReplacedLongestFirst() {
        let redactor = Redactor(secrets: ["sk-ant-123456", "sk-ant-123456-extra", "abc"])
        #expect(redactor.redact("key=sk-ant-123456-extra and sk-ant-123456") == "key=[redacted] and [redacted]")
        // Too short to redact safely: left alone.
        #expect(redactor.redact("abc") == "abc")
    }

    @Test func theRunLogNeverWritesASecret() throws {
        let root = Scratch.path("core")
        let log = try RunLog(layout: Layout(root: root), command: "test")
        log.addSecret("hunter2-very-secret")
        log.write("password is hunter2-very-secret\nsecond line hunter2-very-secret", step: "s")
        let text = try #require(try AtomicFile.readText(log.path, limit: .config))
        #expect(!text.contains("hunter2"))
        #expect(text.contains("[s] password is [redacted]"))
        #expect(text.contains("[s] second line [redacted]"))
        let mode = try FileManager.default.attributesOfItem(atPath: log.path)[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }
}

@Suite struct Values {
    @Test(arguments: ["shop.example.com", "A.B.example.org", "xn--bcher-kva.example"])
    func validDomains(_ name: String) throws {
        #expect(try DomainName(name).value == name.lowercased())
    }

    @Test(arguments: [
        ("shop example.com", "a space"), ("shop.example.com\nx", "a newline"), ("shop\"x.com", "'\"'"),
        ("shop;x.com", "';'"), ("shop{x.com", "'{'"), ("localhost", "at least two labels"),
        ("a..b", "empty label"), ("-a.com", "hyphen"), ("example.com.", "trailing dot"), ("1.2.3.4", "numeric"),
    ])
    func invalidDomainsSayWhy(_ name: String, _ reason: String) {
        #expect { try DomainName(name) } throws: { error in
            (error as? UserError)?.message.contains(reason) == true
        }
    }

    @Test func emailsAreCheckedOnBothSides() throws {
        #expect(try EmailAddress("Admin@Example.COM").value == "Admin@example.com")
        for bad in [
            "admin", "a@b@c.com", "@example.com", "ad min@example.com", "admin@localhost", "a\"b@example.com",
            "a;b@example.com",
        ] {
            #expect(throws: UserError.self) { try EmailAddress(bad) }
        }
    }

    @Test func portsAndTokens() throws {
        #expect(throws: UserError.self) { try Port(0) }
        #expect(throws: UserError.self) { try Port(65536) }
        #expect(try Port(8443).value == 8443)
        #expect(try SafeToken("nginx:1.27-alpine").value == "nginx:1.27-alpine")
        for bad in ["a b", "a$b", "a;b", "a{b", "a\"b", "a\nb", "a#b", ""] {
            #expect(throws: UserError.self) { try SafeToken(bad) }
        }
    }

    /// Every checked value is stored as its raw value and checked again when read back: a hand-edited file
    /// cannot bring in a value its type would refuse.
    @Test func checkedValuesRoundTripAsTheirRawValueAndAreCheckedWhenDecoded() throws {
        struct Holder: Codable, Equatable {
            var domain: DomainName, email: EmailAddress, port: SBSCore.Port, token: SafeToken
        }
        let holder = Holder(
            domain: try DomainName("Shop.Example.com"), email: try EmailAddress("a@example.com"),
            port: try SBSCore.Port(8443), token: try SafeToken("nginx:1.27.3-alpine"))
        let json = try JSONEncoder().encode(holder)
        let object = try JSONSerialization.jsonObject(with: json) as? [String: Any]
        #expect(object?["domain"] as? String == "shop.example.com")
        #expect(object?["port"] as? Int == 8443)
        #expect(try JSONDecoder().decode(Holder.self, from: json) == holder)
        for (field, bad) in [("domain", "\"localhost\""), ("email", "\"a@b@c\""), ("port", "0"), ("token", "\"a b\"")] {
            var fields = [
                "domain": "\"shop.example.com\"", "email": "\"a@example.com\"", "port": "443", "token": "\"x\"",
            ]
            fields[field] = bad
            let text = "{" + fields.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ",") + "}"
            let error = #expect(throws: DecodingError.self, "\(field) = \(bad)") {
                try JSONDecoder().decode(Holder.self, from: Data(text.utf8))
            }
            guard case .dataCorrupted(let context)? = error else {
                Issue.record("\(String(describing: error))")
                continue
            }
            #expect(context.codingPath.map(\.stringValue) == [field])
        }
    }

    @Test func atomicWritesSetTheModeTheUmaskWouldNarrow() throws {
        // 0666 is what a usual umask (022) narrows to 0644 on open: the explicit fchmod must keep it. (The umask
        // itself is not changed here: it is process-wide, and other tests run alongside.)
        let dir = Scratch.path("core")
        try AtomicFile.write("x", to: dir + "/a/b/file", mode: 0o666)
        try AtomicFile.write("secret", to: dir + "/a/b/secret", mode: 0o600)
        try AtomicFile.makeDirectories(dir + "/c", mode: 0o777)
        let attributes = { (path: String) in
            try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        }
        #expect(try attributes(dir + "/a/b/file") == 0o666)
        #expect(try attributes(dir + "/a/b/secret") == 0o600)
        #expect(try attributes(dir + "/c") == 0o777)
    }
}

@Suite struct RunLogOnAFullDisk {
    // /dev/full answers every write with ENOSPC, as a full /var/log does: the write is reported once, never a crash
    // (FileHandle.write traps on a failed write).
    @Test func aFullDiskIsAClearErrorNotACrash() throws {
        let notices = NoticeLog()
        let log = try RunLog(path: "/dev/full", notice: { notices.add($0) })
        log.write("first line")
        log.write("second line")
        let failure = try #require(log.failure)
        #expect(failure.message.contains("/dev/full"))
        #expect(failure.message.contains("No space left on device"))
        #expect(failure.remedy?.contains("Free space") == true)
        #expect(notices.all.count == 1)
        #expect(notices.all.first?.contains("cannot be written") == true)
    }
}

final class NoticeLog: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite struct StaleTemporaries {
    // A run killed between creating and renaming a temporary file (`.answers.yaml.tmp-PID-N`) leaves it behind;
    // the next write of the same file removes it, and leaves alone the temporaries of writers that still run.
    @Test func theNextWriteRemovesTheTemporariesOfDeadWriters() async throws {
        let dir = Scratch.path("core")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A pid that surely ran and ended: a child of ours, reaped.
        let result = try await SystemCommandRunner().run(["sh", "-c", "echo $$"], timeout: .seconds(30))
        let deadPID = try #require(Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let stale = dir + "/.answers.yaml.tmp-\(deadPID)-12345"
        let live = dir + "/.answers.yaml.tmp-\(getppid())-777"
        let other = dir + "/.grafana.ini.tmp-\(deadPID)-1"
        for path in [stale, live, other] { FileManager.default.createFile(atPath: path, contents: Data("half".utf8)) }
        try AtomicFile.write("version: 1\n", to: dir + "/answers.yaml", mode: 0o600)
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: live), "a writer that still runs keeps its temporary file")
        #expect(
            FileManager.default.fileExists(atPath: other), "another file's temporaries wait for that file's next write")
        #expect(try AtomicFile.readText(dir + "/answers.yaml", limit: .answers) == "version: 1\n")
    }
}
