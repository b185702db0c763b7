import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

@testable import ACME
@testable import Verify

/// The HTTP and TLS checks against a real nginx on this host, with certificates made here: the checks must pass
/// on a site served as the stack's nginx.conf serves it, and fail, each for its own reason, on one that is not.
@Suite(.serialized) struct NginxSiteTests {
    @Test(.requires("nginx", install: "apt-get install -y nginx"))
    func theSiteChecksPassAndFailAgainstARealNginx() async throws {
        let site = try await NginxSite.start(nginx: try #require(Integration.path(of: "nginx")))
        defer { site.stop() }
        let names = ["shop.test", "www.shop.test"]

        func checks(_ ports: (http: Int, https: Int), names: [String] = names, trust: VerifyTarget.Trust) async throws
            -> [VerifyCheck]
        {
            let target = makeTarget(names: names, httpPort: ports.http, httpsPort: ports.https, trust: trust)
            return try await SiteChecks(target: target, transports: .curl(for: target), now: Date()).run()
        }

        // As the stack serves it, trusting the CA that issued the certificate: every check passes, with the
        // served certificate's days left for each name.
        let good = try await checks(site.stackLike, trust: .bundle(site.caFile))
        #expect(good.map(\.id) == Array(StackVerifier.checkIDs.prefix(8)))
        for check in good { #expect(check.status == .pass, "\(check.id): \(check.detail)") }
        #expect(
            good["http-redirect"]?.detail
                == "GET http://shop.test:\(site.stackLike.http)/ → 301 https://shop.test:\(site.stackLike.https)/")
        let tls = try #require(good["tls-certificate"])
        #expect(
            tls.detail.contains("shop.test: valid, 90 days left")
                && tls.detail.contains("www.shop.test: valid, 90 days left"), "\(tls.detail)")

        // A name the certificate does not carry: nginx refuses the handshake for it (ssl_reject_handshake), and
        // only that name fails.
        let wrongName = try await checks(site.stackLike, names: names + ["other.test"], trust: .bundle(site.caFile))
        let refused = try #require(wrongName["tls-certificate"])
        #expect(
            refused.status == .fail && refused.detail.contains("other.test: refused (")
                && refused.detail.contains("www.shop.test: valid"), "\(refused.detail)")
        #expect(refused.remedy?.contains("obtain-certificate") == true)
        #expect(wrongName.filter { $0.status == .fail }.map(\.id) == ["tls-certificate"])

        // The system's store does not know the test CA: the certificate is refused, and the detail says what the
        // server presented (read without verification).
        let untrusted = try await checks(site.stackLike, trust: .system)
        let system = try #require(untrusted["tls-certificate"])
        #expect(
            system.status == .fail
                && system.detail.contains(
                    "it presents a certificate for shop.test, www.shop.test from CN=sbs verify test CA"),
            "\(system.detail)")
        #expect(
            untrusted["web-app"]?.status == .fail
                && untrusted["web-app"]?.remedy == "The TLS handshake failed: see tls-certificate.")
        #expect(untrusted["http-redirect"]?.status == .pass, "plain HTTP needs no trust")

        // A misconfigured site: no redirect, no security headers, the API down, and a certificate served for any
        // name (so the wrong name shows what it got instead).
        let broken = try await checks(site.broken, names: ["shop.test", "other.test"], trust: .bundle(site.caFile))
        #expect(
            broken["http-redirect"]?.status == .fail
                && broken["http-redirect"]?.detail.contains("→ 200 without a Location") == true)
        #expect(broken["web-app"]?.status == .pass)
        #expect(
            broken["api-health"]?.status == .fail
                && broken["api-health"]?.detail.hasSuffix("/api/health → 502; expected 200") == true)
        #expect(broken["auth-health"]?.status == .fail && broken["auth-health"]?.detail.contains("→ 404") == true)
        for id in ["header-hsts", "header-x-frame-options", "header-x-content-type-options"] {
            #expect(
                broken[id]?.status == .fail && broken[id]?.detail.hasPrefix("no ") == true,
                "\(id): \(broken[id]?.detail ?? "-")")
        }
        let anyName = try #require(broken["tls-certificate"])
        #expect(
            anyName.detail.contains("shop.test: valid") && anyName.detail.contains("other.test: refused (")
                && anyName.detail.contains("it presents a certificate for shop.test, www.shop.test"),
            "\(anyName.detail)")
        for check in broken where check.status == .fail {
            #expect(check.remedy?.isEmpty == false, "\(check.id) fails without a remedy")
        }

        // Self-signed (tls.mode self-signed): trusting the installed certificate, the site passes; trusting another
        // self-signed certificate for the same names (what is on disk is not what is served), it fails.
        let selfSigned = try await checks(site.selfSigned, trust: .installedCertificate(site.selfSignedFile))
        for check in selfSigned { #expect(check.status == .pass, "self-signed \(check.id): \(check.detail)") }
        let otherFile = site.directory + "/other-self-signed.pem"
        try AtomicFile.write(try CertificateTools.makeSelfSigned(domains: names).certificatePEM, to: otherFile)
        let mismatch = try await checks(site.selfSigned, trust: .installedCertificate(otherFile))
        #expect(
            mismatch["tls-certificate"]?.status == .fail
                && mismatch["tls-certificate"]?.detail.contains("shop.test: refused (") == true,
            "\(mismatch["tls-certificate"]?.detail ?? "-")")
    }

    @Test func nothingListeningIsAFailureWithTheErrorNotACrash() async throws {
        let closed = (http: try freeLoopbackPort(), https: try freeLoopbackPort())
        let target = makeTarget(httpPort: closed.http, httpsPort: closed.https)
        let checks = try await SiteChecks(target: target, transports: .curl(for: target), now: Date()).run()
        #expect(checks.count == 8)
        for check in checks {
            #expect(check.status == .fail && check.remedy?.isEmpty == false, "\(check.id)")
        }
        #expect(checks["http-redirect"]?.detail.contains("got no answer") == true)
        #expect(checks["tls-certificate"]?.detail.contains("www.shop.test: refused (") == true)
    }
}

/// nginx on free loopback ports in a temp folder, serving three sites: `stackLike` (as the stack's nginx.conf:
/// redirect, security headers, health endpoints, unknown names refused), `broken` (none of that), and
/// `selfSigned` (stackLike with a self-signed certificate). Stopped by its pid.
final class NginxSite: Sendable {
    let directory: String
    let stackLike: (http: Int, https: Int)
    let broken: (http: Int, https: Int)
    let selfSigned: (http: Int, https: Int)
    let caFile: String
    let selfSignedFile: String

    static func start(nginx: String) async throws -> NginxSite {
        var failure: (any Error)?
        // Free ports are released just before nginx binds them; on the rare collision, try fresh ones.
        for _ in 0..<3 {
            do { return try await NginxSite(nginx: nginx) } catch { failure = error }
        }
        throw failure ?? UserError("nginx did not start")
    }

    private init(nginx: String) async throws {
        directory = Scratch.path("verify-nginx")
        stackLike = (try freeLoopbackPort(), try freeLoopbackPort())
        broken = (try freeLoopbackPort(), try freeLoopbackPort())
        selfSigned = (try freeLoopbackPort(), try freeLoopbackPort())
        let pki = try TestPKI()
        let leaf = try pki.leaf(["shop.test", "www.shop.test"], days: 90.5)
        caFile = directory + "/ca.pem"
        try AtomicFile.write(try pki.caPEM, to: caFile)
        try AtomicFile.write(leaf.certificate + (try pki.caPEM), to: directory + "/ca-issued/fullchain.pem")
        try AtomicFile.write(leaf.key, to: directory + "/ca-issued/privkey.pem", mode: 0o600)
        let own = try CertificateTools.makeSelfSigned(domains: ["shop.test", "www.shop.test"])
        selfSignedFile = directory + "/self-signed/fullchain.pem"
        try AtomicFile.write(own.certificatePEM, to: selfSignedFile)
        try AtomicFile.write(own.keyPEM, to: directory + "/self-signed/privkey.pem", mode: 0o600)
        try AtomicFile.makeDirectories(directory + "/tmp")

        let config = Self.config(directory: directory, stackLike: stackLike, selfSigned: selfSigned, broken: broken)
        try AtomicFile.write(config, to: directory + "/nginx.conf")
        // nginx forks its master and returns; the runner gives up the output the daemon keeps open.
        let result = try await SystemCommandRunner().run(
            [nginx, "-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/error.log"],
            timeout: .seconds(30))
        guard result.status == 0, AtomicFile.exists(directory + "/nginx.pid") else {
            let log = (try? AtomicFile.readText(directory + "/error.log", limit: .config)) ?? nil
            stop()
            throw UserError("nginx did not start (exit \(result.status)): \(result.stderr) \(log ?? "")")
        }
    }

    static func config(
        directory: String, stackLike: (http: Int, https: Int), selfSigned: (http: Int, https: Int),
        broken: (http: Int, https: Int)
    ) -> String {
        func served(_ ports: (http: Int, https: Int), certificate: String) -> String {
            """
                server {
                    listen 127.0.0.1:\(ports.http);
                    server_name shop.test www.shop.test;
                    location / { return 301 https://$host:\(ports.https)$request_uri; }
                }
                server {
                    listen 127.0.0.1:\(ports.https) ssl default_server;
                    server_name _;
                    ssl_reject_handshake on;
                }
                server {
                    listen 127.0.0.1:\(ports.https) ssl;
                    server_name shop.test www.shop.test;
                    ssl_certificate \(directory)/\(certificate)/fullchain.pem;
                    ssl_certificate_key \(directory)/\(certificate)/privkey.pem;
                    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
                    add_header X-Frame-Options DENY always;
                    add_header X-Content-Type-Options nosniff always;
                    location = /api/health { return 200 "ok\\n"; }
                    location = /auth/v1/health { return 200 "{\\"name\\":\\"GoTrue\\"}"; }
                    location / { return 200 "web\\n"; }
                }
            """
        }
        return """
            worker_processes 1;
            pid \(directory)/nginx.pid;
            events { worker_connections 64; }
            http {
                access_log off;
                default_type text/plain;
                client_body_temp_path \(directory)/tmp/body;
                proxy_temp_path \(directory)/tmp/proxy;
                fastcgi_temp_path \(directory)/tmp/fastcgi;
                uwsgi_temp_path \(directory)/tmp/uwsgi;
                scgi_temp_path \(directory)/tmp/scgi;
            \(served(stackLike, certificate: "ca-issued"))
            \(served(selfSigned, certificate: "self-signed"))
                server {
                    listen 127.0.0.1:\(broken.http);
                    location / { return 200 "no redirect\\n"; }
                }
                server {
                    listen 127.0.0.1:\(broken.https) ssl;
                    ssl_certificate \(directory)/ca-issued/fullchain.pem;
                    ssl_certificate_key \(directory)/ca-issued/privkey.pem;
                    location = /api/health { return 502; }
                    location = / { return 200 "web\\n"; }
                    location / { return 404; }
                }
            }
            """
    }

    func stop() {
        if let text = try? AtomicFile.readText(directory + "/nginx.pid", limit: .config),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(pid, SIGTERM)
            for _ in 0..<100 where AtomicFile.exists(directory + "/nginx.pid") { usleep(20_000) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
