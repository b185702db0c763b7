import Foundation
import TestSupport
import Testing

/// `sbs renew` on the built binary against a local Pebble.
@Suite("sbs renew")
struct RenewCommandTests {

    // Certificates issued with `cert issue --out DIR` are renewed too, each under its own settings: two folders
    // named `out` (…/a/out and …/b/out) used to share one settings file, and renew looked only in live/.
    @Test(
        .requires(
            "pebble", "pebble-challtestsrv", "nginx", "openssl", install: "apt-get install -y pebble nginx openssl"),
        .timeLimit(.minutes(3)))
    func renewsEveryCertificateItKeepsSettingsForOutFoldersIncluded() async throws {
        let root = scratchDirectory("renew")
        let webroot = root + "/webroot"
        try FileManager.default.createDirectory(atPath: webroot, withIntermediateDirectories: true)
        let acme = try LocalACME(webroot: webroot)
        func issue(_ domain: String, out: String) async throws -> Run {
            try await sbs([
                "cert", "issue", "--domain", domain, "--webroot", webroot, "--directory", acme["PEBBLE_DIRECTORY"],
                "--ca-bundle", acme["PEBBLE_CA_BUNDLE"], "--out", out, "--root", root, "--quiet",
            ])
        }
        let a = root + "/a/out"
        let b = root + "/b/out"
        let first = try await issue("a.example.com", out: a)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try await issue("b.example.com", out: b)
        #expect(second.status == 0, "\(second.stderr)")
        let before = [read(a + "/cert.pem"), read(b + "/cert.pem")]

        let renew = try await sbs(["renew", "--force", "--root", root])
        #expect(renew.status == 0, "\(renew.stderr)")
        #expect(renew.stderr.contains("a.example.com (\(a)): renewed"), "\(renew.stderr)")
        #expect(renew.stderr.contains("b.example.com (\(b)): renewed"), "\(renew.stderr)")
        #expect(read(a + "/cert.pem") != before[0] && read(b + "/cert.pem") != before[1])
        // Each folder still holds its own name.
        #expect(
            spawnAndWait([
                "sh", "-c", "openssl x509 -noout -ext subjectAltName -in \(a)/cert.pem | grep -q a.example.com",
            ]) == 0)
        #expect(
            spawnAndWait([
                "sh", "-c", "openssl x509 -noout -ext subjectAltName -in \(b)/cert.pem | grep -q b.example.com",
            ]) == 0)

        // Without --force: each is checked and said to be not due.
        let check = try await sbs(["renew", "--root", root])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stderr.contains("a.example.com (\(a)): not due"), "\(check.stderr)")
        #expect(check.stderr.contains("b.example.com (\(b)): not due"), "\(check.stderr)")
    }
}
