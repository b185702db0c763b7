import Foundation
import TestSupport
import Testing

/// The install through obtain-certificate against a real Pebble, with a host nginx serving sbs's webroot in place
/// of the stack's nginx (the Docker steps are skipped).
@Suite(.serialized) struct CertificateStep {
    static let dockerSteps = [
        "--skip", "preflight", "--skip", "ensure-docker", "--skip", "restore-database", "--skip", "start-proxy",
    ]

    func answers(_ root: String, acme: LocalACME?, tls: String) -> String {
        var text = """
            version: 1
            domain: shop.example.test
            aliases: [www.shop.example.test]
            admin_email: admin@example.test
            secrets:
              anthropic_api_key: env:SBS_TEST_ANTHROPIC_KEY
            network:
              public_ip: 127.0.0.1
            checks:
              dns: skip
            tls:
              mode: \(tls)

            """
        if let acme {
            text += "  acme_directory: \(acme["PEBBLE_DIRECTORY"])\n  acme_ca_bundle: \(acme["PEBBLE_CA_BUNDLE"])\n"
            text += "ports:\n  http: \(acme["HTTP_PORT"])\n  https: 18443\n"
        }
        return text
    }

    @Test func obtainsAVerifiedCertificateThroughTheWebrootAndSkipsItNextTime() async throws {
        try Integration.require(tools: "pebble", "openssl", "nginx", install: "scripts/ci-setup.sh installs it")
        let root = scratchDirectory("cert")
        let webroot = root + "/var/lib/sbs/webroot"
        try FileManager.default.createDirectory(atPath: webroot, withIntermediateDirectories: true)
        let acme = try LocalACME(webroot: webroot)
        try answers(root, acme: acme, tls: "acme").write(toFile: root + "/site.yaml", atomically: true, encoding: .utf8)
        let host = try fixtureHost()
        let arguments =
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "obtain-certificate",
                "--root", root, "--sysroot", host,
            ] + Self.dockerSteps
        let run = try await sbs(arguments, environment: testEnvironment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("self-check"), "\(run.stderr)")
        let live = root + "/etc/sbs/ssl/live/shop.example.test"
        for file in ["fullchain.pem", "privkey.pem", "cert.pem", "chain.pem"] {
            #expect(FileManager.default.fileExists(atPath: live + "/" + file), "\(file)")
        }
        let keyMode = try FileManager.default.attributesOfItem(atPath: live + "/privkey.pem")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)

        // The chain verifies against this Pebble's root.
        let rootPEM = root + "/pebble-root.pem"
        #expect(
            spawnAndWait([
                "sh", "-c", "curl -fsS --cacert \(acme["PEBBLE_CA_BUNDLE"]) \(acme["PEBBLE_ROOTS"]) > \(rootPEM)",
            ]) == 0)
        #expect(
            spawnAndWait([
                "openssl", "verify", "-CAfile", rootPEM, "-untrusted", live + "/chain.pem", live + "/cert.pem",
            ]) == 0)
        // Challenge files are gone from the webroot.
        #expect(
            (try? FileManager.default.contentsOfDirectory(atPath: webroot + "/.well-known/acme-challenge")) ?? [] == [])

        let again = try await sbs(arguments, environment: testEnvironment)
        #expect(again.status == 0)
        #expect(again.stderr.contains("= obtain-certificate: up to date"), "\(again.stderr)")
    }

    @Test func aWebrootNobodyServesFailsTheSelfCheckBeforeTheCAIsAsked() async throws {
        try Integration.require(tools: "pebble", "openssl", "nginx", install: "scripts/ci-setup.sh installs it")
        let root = scratchDirectory("selfcheck")
        // nginx serves some other folder: the token sbs writes cannot be fetched.
        let acme = try LocalACME(webroot: scratchDirectory("elsewhere"))
        try answers(root, acme: acme, tls: "acme").write(toFile: root + "/site.yaml", atomically: true, encoding: .utf8)
        let run = try await sbs(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "obtain-certificate",
                "--root", root, "--sysroot", try fixtureHost(),
            ] + Self.dockerSteps, environment: testEnvironment)
        #expect(run.status == 1)
        #expect(run.stderr.contains("Step obtain-certificate failed"))
        #expect(
            run.stderr.contains("http://shop.example.test:\(acme["HTTP_PORT"])/.well-known/acme-challenge/"),
            "\(run.stderr)")
        #expect(!run.stderr.contains("order https://"), "the CA was asked despite a failed self-check")
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/sbs/ssl/live/shop.example.test/fullchain.pem"))
        #expect(run.stderr.contains("run `sbs install --root \(root) --answers FIXED.yaml` instead"), "\(run.stderr)")

        // Corrected answers continue the run: only what they change runs again (secrets and profile stay), and
        // the steps that read the host every time (detect-hardware, configure-firewall's sshd configuration).
        try answers(root, acme: nil, tls: "self-signed").write(
            toFile: root + "/fixed.yaml", atomically: true, encoding: .utf8)
        let secrets = read(root + "/etc/sbs/secrets.env")
        let fixed = try await sbs(
            [
                "install", "--answers", root + "/fixed.yaml", "--non-interactive", "--through", "obtain-certificate",
                "--root", root, "--sysroot", try fixtureHost(),
            ] + Self.dockerSteps, environment: testEnvironment)
        #expect(fixed.status == 0, "\(fixed.stderr)")
        #expect(
            ranSteps(fixed) == [
                "collect-answers", "configure-firewall", "detect-hardware", "obtain-certificate", "write-configs",
            ],
            "\(fixed.stderr)")
        #expect(read(root + "/etc/sbs/secrets.env") == secrets)
        #expect(FileManager.default.fileExists(atPath: root + "/etc/sbs/ssl/live/shop.example.test/fullchain.pem"))
    }

    @Test func selfSignedModeNeedsNoCA() async throws {
        let root = scratchDirectory("selfsigned")
        try answers(root, acme: nil, tls: "self-signed").write(
            toFile: root + "/site.yaml", atomically: true, encoding: .utf8)
        let run = try await sbs(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "obtain-certificate",
                "--root", root, "--sysroot", try fixtureHost(),
            ] + Self.dockerSteps, environment: testEnvironment)
        #expect(run.status == 0, "\(run.stderr)")
        let cert = root + "/etc/sbs/ssl/live/shop.example.test/cert.pem"
        #expect(FileManager.default.fileExists(atPath: cert))
        try Integration.require(tools: "openssl", install: "scripts/ci-setup.sh installs it")
        #expect(
            spawnAndWait([
                "sh", "-c", "openssl x509 -in \(cert) -noout -ext subjectAltName | grep -q 'DNS:www.shop.example.test'",
            ]) == 0)

        // A deleted key is drift: the step runs again and installs a new certificate with its key.
        let live = root + "/etc/sbs/ssl/live/shop.example.test"
        let arguments =
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "obtain-certificate",
                "--root", root, "--sysroot", try fixtureHost(),
            ] + Self.dockerSteps
        try FileManager.default.removeItem(atPath: live + "/privkey.pem")
        let repaired = try await sbs(arguments, environment: testEnvironment)
        #expect(repaired.stderr.contains("(drift: \(live)/privkey.pem missing)"), "\(repaired.stderr)")
        #expect(
            spawnAndWait([
                "sh", "-c",
                "[ \"$(openssl x509 -in \(live)/fullchain.pem -noout -pubkey)\" = \"$(openssl pkey -in \(live)/privkey.pem -pubout)\" ]",
            ]) == 0)
        // A replaced certificate (as `sbs renew` leaves it) is not drift: nothing is ordered again.
        let chain = try #require(read(live + "/fullchain.pem"))
        try (chain + "\n").write(toFile: live + "/fullchain.pem", atomically: true, encoding: .utf8)
        let kept = try await sbs(arguments, environment: testEnvironment)
        #expect(kept.stderr.contains("= obtain-certificate: up to date"), "\(kept.stderr)")
        #expect(read(live + "/fullchain.pem") == chain + "\n")
    }
}
