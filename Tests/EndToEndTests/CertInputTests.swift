import Foundation
import TestSupport
import Testing

/// `sbs cert issue` refuses what it cannot use before it contacts any CA, and says what is wrong.
@Suite("cert issue inputs")
struct CertInputTests {
    func issue(_ extra: [String], webroot: String? = nil, environment: [String: String] = [:]) async throws -> Run {
        let dir = scratchDirectory("cert-input")
        let webrootPath = webroot ?? dir + "/webroot"
        try? FileManager.default.createDirectory(atPath: dir + "/webroot", withIntermediateDirectories: true)
        // Every case is refused before the first request; were one sent, it would meet a closed loopback port.
        return try await sbs(
            [
                "cert", "issue", "--webroot", webrootPath, "--directory", "https://127.0.0.1:1/directory",
                "--root", dir, "--quiet",
            ] + extra, environment: environment)
    }

    @Test func anIPAddressIsRefusedLocally() async throws {
        let run = try await issue(["--domain", "127.0.0.1"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("\"127.0.0.1\" is an IP address"), "\(run.stderr)")
    }

    @Test func portsAreCheckedWhenParsed() async throws {
        // The argument parser's error line: "Error: The value 'V' is invalid for '--self-check-port <PORT>': REASON",
        // the reason sbs's own, naming the value and the range.
        let reasons = [
            "0": "0 is not a valid port: ports run from 1 to 65535",
            "70000": "70000 is not a valid port: ports run from 1 to 65535",
            "http": "'http' is not a port number (1-65535).",
        ]
        for (bad, reason) in reasons {
            let run = try await issue(["--domain", "shop.example.test", "--self-check", "--self-check-port", bad])
            #expect(run.status == 64, "\(bad): \(run.stderr)")
            let line = run.stderr.split(separator: "\n").first.map(String.init) ?? ""
            let prefix = "Error: The value '\(bad)' is invalid for '--self-check-port <PORT>': "
            #expect(line.hasPrefix(prefix) && line.dropFirst(prefix.count) == reason, "\(bad): \(run.stderr)")
        }
    }

    @Test func aWebrootThatIsAFileSaysSo() async throws {
        let dir = scratchDirectory("cert-webroot-file")
        try "x".write(toFile: dir + "/file", atomically: true, encoding: .utf8)
        let run = try await issue(["--domain", "shop.example.test"], webroot: dir + "/file")
        #expect(run.status == 1)
        #expect(run.stderr.contains("is a file, not a folder"), "\(run.stderr)")
    }

    @Test func aGarbageCABundleIsNotAPEMBundle() async throws {
        let dir = scratchDirectory("cert-bundle")
        try "garbage".write(toFile: dir + "/ca.pem", atomically: true, encoding: .utf8)
        let run = try await issue(["--domain", "shop.example.test", "--ca-bundle", dir + "/ca.pem"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("is not a PEM bundle"), "\(run.stderr)")
        #expect(!run.stderr.contains("could not reach"), "\(run.stderr)")
    }

    @Test func plainHTTPToAnotherHostIsRefused() async throws {
        let dir = scratchDirectory("cert-http")
        try? FileManager.default.createDirectory(atPath: dir + "/webroot", withIntermediateDirectories: true)
        let run = try await sbs([
            "cert", "issue", "--domain", "shop.example.test", "--webroot", dir + "/webroot",
            "--directory", "http://acme.invalid/directory", "--root", dir, "--quiet",
        ])
        #expect(run.status == 1)
        #expect(run.stderr.contains("unencrypted"), "\(run.stderr)")
        #expect(
            !FileManager.default.fileExists(atPath: dir + "/etc/sbs/acme"), "nothing is kept for a refused directory")
    }

    // The EAB key is read from env:NAME or file:PATH (never needed on the command line); a missing one is named.
    @Test func theEABKeyComesFromTheEnvironmentOrAFile() async throws {
        let unset = try await issue([
            "--domain", "shop.example.test", "--eab-kid", "kid-1", "--eab-hmac-key", "env:SBS_TEST_EAB_UNSET",
        ])
        #expect(unset.status == 1)
        #expect(unset.stderr.contains("SBS_TEST_EAB_UNSET is not set"), "\(unset.stderr)")
        let missing = try await issue([
            "--domain", "shop.example.test", "--eab-kid", "kid-1", "--eab-hmac-key", "file:/nonexistent/eab",
        ])
        #expect(missing.stderr.contains("/nonexistent/eab does not exist"), "\(missing.stderr)")
        let literal = try await issue([
            "--domain", "shop.example.test", "--eab-kid", "kid-1", "--eab-hmac-key", "c2VjcmV0LWtleQ",
        ])
        #expect(literal.stderr.contains("visible to other users"), "\(literal.stderr)")
    }

    // --out names a path sbs did not make: refused before the CA is asked (the closed port is never met), the
    // path named, nothing moved, written or made beside it.
    @Test func anOutFolderOfSomeoneElsesIsRefusedAndLeftAsItIs() async throws {
        let dir = scratchDirectory("cert-out-folder")
        try FileManager.default.createDirectory(atPath: dir + "/d/sub", withIntermediateDirectories: true)
        try "important\n".write(toFile: dir + "/d/passwd", atomically: true, encoding: .utf8)
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        let run = try await issue(["--domain", "shop.example.test", "--out", dir + "/d/"])
        #expect(run.status == 1)
        #expect(
            run.stderr.contains(
                "sbs will not replace \(dir)/d: it is a folder holding files sbs did not write (passwd, sub)"),
            "\(run.stderr)")
        #expect(!run.stderr.contains("Could not reach"), "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/d").sorted() == ["passwd", "sub"])
        #expect(read(dir + "/d/passwd") == "important\n")
    }

    @Test func anOutFileKeepsItsContent() async throws {
        let dir = scratchDirectory("cert-out-file")
        try "my own certificate\n".write(toFile: dir + "/server.pem", atomically: true, encoding: .utf8)
        let run = try await issue(["--domain", "shop.example.test", "--out", dir + "/server.pem"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("sbs will not replace \(dir)/server.pem: it is a file"), "\(run.stderr)")
        #expect(read(dir + "/server.pem") == "my own certificate\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["server.pem"])
    }

    // Command-line mistakes are usage errors (64), found before anything else.
    @Test func anEmptyDirectoryIsRefused() async throws {
        let dir = scratchDirectory("cert-empty-directory")
        try? FileManager.default.createDirectory(atPath: dir + "/webroot", withIntermediateDirectories: true)
        let run = try await sbs([
            "cert", "issue", "--domain", "shop.example.test", "--webroot", dir + "/webroot",
            "--directory", "", "--root", dir, "--quiet",
        ])
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("--directory is empty"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/etc/sbs/acme"))
    }

    @Test func theEmailIsCheckedAsTheAnswersCheckIt() async throws {
        for bad in ["a b@x.example", "ops", "ops@localhost"] {
            let run = try await issue(["--domain", "shop.example.test", "--email", bad])
            #expect(run.status == 64, "\(bad): \(run.stderr)")
            #expect(run.stderr.contains("is not a valid e-mail address"), "\(bad): \(run.stderr)")
        }
    }

    @Test func atMostOneHundredDomains() async throws {
        let names = (1...101).flatMap { ["--domain", "n\($0).example.test"] }
        let run = try await issue(names)
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("101 --domain names were given; at most 100"), "\(run.stderr)")
    }

    // A user name and password in the directory URL are never shown: the URL is refused with them as ***.
    @Test func credentialsInTheDirectoryAreNeverPrinted() async throws {
        for url in ["https://user:password@127.0.0.1:1/dir", "http://user:password@acme.example.test/dir"] {
            let dir = scratchDirectory("cert-userinfo")
            try? FileManager.default.createDirectory(atPath: dir + "/webroot", withIntermediateDirectories: true)
            let run = try await sbs([
                "cert", "issue", "--domain", "shop.example.test", "--webroot", dir + "/webroot",
                "--directory", url, "--root", dir,
            ])
            #expect(run.status == 1, "\(url): \(run.stderr)")
            #expect(run.stderr.contains("holds a user name or password"), "\(url): \(run.stderr)")
            #expect(
                !(run.stdout + run.stderr).contains("password@") && !(run.stdout + run.stderr).contains("user:"),
                "\(url): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/etc/sbs/acme"), "nothing is kept")
        }
    }
}
