import Foundation
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
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sbs-core-\(UUID().uuidString)").path
        let log = try RunLog(layout: Layout(root: root), command: "test")
        log.addSecret("hunter2-very-secret")
        log.write("password is hunter2-very-secret\nsecond line hunter2-very-secret", step: "s")
        let text = try #require(try AtomicFile.readText(log.path))
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
        for bad in ["admin", "a@b@c.com", "@example.com", "ad min@example.com", "admin@localhost", "a\"b@example.com", "a;b@example.com"] {
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

    @Test func atomicWritesSetTheModeTheUmaskWouldNarrow() throws {
        // 0666 is what a usual umask (022) narrows to 0644 on open: the explicit fchmod must keep it. (The umask
        // itself is not changed here: it is process-wide, and other tests run alongside.)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbs-core-\(UUID().uuidString)").path
        try AtomicFile.write("x", to: dir + "/a/b/file", mode: 0o666)
        try AtomicFile.write("secret", to: dir + "/a/b/secret", mode: 0o600)
        try AtomicFile.makeDirectories(dir + "/c", mode: 0o777)
        let attributes = { (path: String) in try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int }
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

import Synchronization
