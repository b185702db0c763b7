import Foundation
import Host
import Processes
import Render
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
        #expect(good.map(\.id) == Array(StackVerifier.checkIDs.prefix(9)))
        for check in good { #expect(check.status == .pass, "\(check.id): \(check.detail)") }
        #expect(
            good["http-redirect"]?.detail
                == "GET http://shop.test:\(site.stackLike.http)/ → 301 https://shop.test:\(site.stackLike.https)/")
        let tls = try #require(good["tls-certificate"])
        #expect(
            tls.detail.contains("shop.test: valid, 90 days left")
                && tls.detail.contains("www.shop.test: valid, 90 days left"), "\(tls.detail)")
        #expect(
            good["tls-protocol"]?.detail.hasPrefix("offered TLS 1.3 alone, the server agrees on TLSv1.3 (TLS_") == true
                && good["tls-protocol"]?.detail.hasSuffix("; TLS 1.0 and 1.1 refused") == true,
            "\(good["tls-protocol"]?.detail ?? "-")")

        // TLS 1.3 allowed in the site's server block only (sbs's nginx.conf before the protocols moved to the http
        // block): nginx 1.22 agrees on the protocol with the port's default server, which keeps nginx's default
        // (TLS 1.0-1.2), so a client offering TLS 1.3 alone is refused. Only tls-protocol fails, naming TLS 1.2.
        let siteOnly = try await checks(site.siteBlockTLS, trust: .bundle(site.caFile))
        let refusedTLS13 = try #require(siteOnly["tls-protocol"])
        #expect(
            refusedTLS13.status == .fail
                && refusedTLS13.detail.hasPrefix("offered TLS 1.3 alone, the server refuses the handshake (")
                && refusedTLS13.detail.contains("; offered every version, it agrees on TLSv1.2 ("),
            "\(refusedTLS13.detail)")
        #expect(refusedTLS13.remedy?.contains("default server") == true)
        #expect(
            siteOnly.filter { $0.status == .fail }.map(\.id) == ["tls-protocol"],
            "\(siteOnly.filter { $0.status == .fail }.map { "\($0.id): \($0.detail)" })")

        // TLS 1.3 everywhere, but TLS 1.0 and 1.1 accepted too (at OpenSSL's security level 0): a failure that names
        // the old version agreed on.
        let legacy = try await checks(site.legacyTLS, trust: .bundle(site.caFile))
        #expect(
            legacy["tls-protocol"]?.status == .fail
                && legacy["tls-protocol"]?.detail.contains("offered TLS 1.0 and 1.1 alone, it accepts TLSv1.1 too")
                    == true,
            "\(legacy["tls-protocol"]?.detail ?? "-")")
        #expect(
            legacy.filter { $0.status == .fail }.map(\.id) == ["tls-protocol"],
            "\(legacy.filter { $0.status == .fail }.map { "\($0.id): \($0.detail)" })")

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
        #expect(broken["tls-protocol"]?.status == .fail, "nginx's default protocols on 1.22 leave out TLS 1.3")
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
        #expect(checks.count == 9)
        for check in checks {
            #expect(check.status == .fail && check.remedy?.isEmpty == false, "\(check.id)")
        }
        #expect(checks["http-redirect"]?.detail.contains("got no answer") == true)
        #expect(checks["tls-certificate"]?.detail.contains("www.shop.test: refused (") == true)
        #expect(checks["tls-protocol"]?.detail.contains("got no answer") == true)
    }

    /// The stack's own nginx.conf, rendered from the templates and served by nginx 1.22: offered TLS 1.3 alone, it
    /// agrees on it; it sends the HSTS header the render input asks for, and verify fails a target that asks for
    /// another. (Before the TLS settings moved to the http block, tls-protocol failed here.)
    @Test(
        .requires("nginx", "openssl", install: "apt-get install -y nginx openssl"),
        arguments: [
            HSTSPolicy.standard, HSTSPolicy(maxAge: 31_536_000, includeSubdomains: true, preload: true),
            HSTSPolicy(maxAge: 0),
        ])
    func theStacksRenderedConfigAgreesOnTLS13AndSendsTheHSTSOfTheAnswers(_ policy: HSTSPolicy) async throws {
        let site = try await StackNginx.start(
            nginx: try #require(Integration.path(of: "nginx")), names: ["shop.test", "www.shop.test"], hsts: policy)
        defer { site.stop() }
        func checks(hsts: HSTSPolicy?) async throws -> [VerifyCheck] {
            var target = makeTarget(httpPort: site.http, httpsPort: site.https, trust: .bundle(site.caFile))
            target.hsts = hsts
            return try await SiteChecks(target: target, transports: .curl(for: target), now: Date()).run()
        }
        let asked = try await checks(hsts: policy)
        for id in ["tls-protocol", "header-hsts", "tls-certificate", "http-redirect"] {
            #expect(asked[id]?.status == .pass, "\(id): \(asked[id]?.detail ?? "-")")
        }
        #expect(asked["header-hsts"]?.detail == "Strict-Transport-Security: \(policy.headerValue) (as the answers ask)")
        #expect(asked["tls-protocol"]?.detail.contains("agrees on TLSv1.3") == true)

        // The same served header against answers that ask for something else: a failure naming the answer.
        var other = policy
        other.includeSubdomains.toggle()
        other.preload = false
        let mismatch = try await checks(hsts: other)
        #expect(
            mismatch["header-hsts"]?.status == .fail
                && mismatch["header-hsts"]?.detail.contains("tls.hsts_include_subdomains") == true,
            "\(mismatch["header-hsts"]?.detail ?? "-")")

        // openssl, as a client from outside would: TLS 1.3 with X25519 (the first curve of ssl_ecdh_curve).
        let handshake = try await SystemCommandRunner().run(
            [
                "openssl", "s_client", "-tls1_3", "-groups", "X25519", "-connect", "127.0.0.1:\(site.https)",
                "-servername", "shop.test",
            ], timeout: .seconds(20))
        #expect(
            handshake.stdout.contains("New, TLSv1.3, Cipher is TLS_")
                && handshake.stdout.contains("Server Temp Key: X25519"), "\(handshake.stdout)\(handshake.stderr)")
    }
}

/// nginx on free loopback ports in a temp folder, serving five sites: `stackLike` (as the stack's nginx.conf:
/// redirect, security headers, health endpoints, unknown names refused, TLS 1.2 and 1.3 on every server of the port),
/// `broken` (none of that), `selfSigned` (stackLike with a self-signed certificate), `siteBlockTLS` (stackLike with
/// the TLS protocols in the site's server block only) and `legacyTLS` (stackLike accepting TLS 1.0 and 1.1 too).
/// Stopped by its pid.
final class NginxSite: Sendable {
    typealias Ports = (http: Int, https: Int)
    let directory: String
    let stackLike: Ports
    let broken: Ports
    let selfSigned: Ports
    let siteBlockTLS: Ports
    let legacyTLS: Ports
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
        siteBlockTLS = (try freeLoopbackPort(), try freeLoopbackPort())
        legacyTLS = (try freeLoopbackPort(), try freeLoopbackPort())
        let pki = try TestPKI()
        caFile = directory + "/ca.pem"
        try pki.install(names: ["shop.test", "www.shop.test"], caFile: caFile, in: directory + "/ca-issued")
        let own = try CertificateTools.makeSelfSigned(domains: ["shop.test", "www.shop.test"])
        selfSignedFile = directory + "/self-signed/fullchain.pem"
        try AtomicFile.write(own.certificatePEM, to: selfSignedFile)
        try AtomicFile.write(own.keyPEM, to: directory + "/self-signed/privkey.pem", mode: 0o600)

        let config = Self.config(
            directory: directory,
            served: [
                (stackLike, "ca-issued", .everyServer), (selfSigned, "self-signed", .everyServer),
                (siteBlockTLS, "ca-issued", .siteBlockOnly), (legacyTLS, "ca-issued", .legacyToo),
            ],
            broken: broken)
        try await NginxProcess.start(nginx: nginx, directory: directory, config: config)
    }

    /// Where a served site's TLS protocols are set.
    enum Protocols {
        /// TLS 1.2 and 1.3 for every server of the port, as the stack's nginx.conf sets them (in its http block).
        case everyServer
        /// TLS 1.2 and 1.3 in the site's server block alone: the port's default server keeps nginx's default.
        case siteBlockOnly
        /// TLS 1.0 to 1.3 for every server, at OpenSSL's security level 0 (which TLS 1.0 and 1.1 need).
        case legacyToo
    }

    static func config(directory: String, served: [(Ports, certificate: String, Protocols)], broken: Ports) -> String {
        func site(_ ports: Ports, certificate: String, protocols: Protocols) -> String {
            let port: String
            let site: String
            switch protocols {
            case .everyServer:
                port = "ssl_protocols TLSv1.2 TLSv1.3;"
                site = ""
            case .siteBlockOnly:
                port = ""
                site = "ssl_protocols TLSv1.2 TLSv1.3;"
            case .legacyToo:
                port = "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; ssl_ciphers DEFAULT:@SECLEVEL=0;"
                site = ""
            }
            // The port's settings are written in each of its servers: the sites of this one nginx differ.
            return """
                    server {
                        listen 127.0.0.1:\(ports.http);
                        server_name shop.test www.shop.test;
                        location / { return 301 https://$host:\(ports.https)$request_uri; }
                    }
                    server {
                        listen 127.0.0.1:\(ports.https) ssl default_server;
                        server_name _;
                        ssl_reject_handshake on;
                        \(port)
                    }
                    server {
                        listen 127.0.0.1:\(ports.https) ssl;
                        server_name shop.test www.shop.test;
                        ssl_certificate \(directory)/\(certificate)/fullchain.pem;
                        ssl_certificate_key \(directory)/\(certificate)/privkey.pem;
                        \(port)
                        \(site)
                        add_header Strict-Transport-Security "max-age=63072000" always;
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
            \(NginxProcess.tempPaths(directory))
            \(served.map { site($0.0, certificate: $0.certificate, protocols: $0.2) }.joined(separator: "\n"))
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

    func stop() { NginxProcess.stop(directory: directory) }
}

/// nginx serving the stack's own `nginx/nginx.conf`, rendered from the repository's templates (production, for
/// `names`, with the HSTS policy given), a certificate from a test CA at its path. Mapped to this host as
/// RenderTests maps it for `nginx -t`: free loopback ports for 80, 443 and the healthcheck's 8080, the
/// certificate folder, pid file and logs in a temp folder, and the upstreams (Docker names, resolved by Docker's
/// DNS) sent to the healthcheck server, which answers 404. Stopped by its pid.
final class StackNginx: Sendable {
    let directory: String
    let http: Int
    let https: Int
    let caFile: String

    static func start(nginx: String, names: [String], hsts: HSTSPolicy) async throws -> StackNginx {
        var failure: (any Error)?
        for _ in 0..<3 {
            do { return try await StackNginx(nginx: nginx, names: names, hsts: hsts) } catch { failure = error }
        }
        throw failure ?? UserError("nginx did not start")
    }

    private init(nginx: String, names: [String], hsts: HSTSPolicy) async throws {
        directory = Scratch.path("verify-stack-nginx")
        http = try freeLoopbackPort()
        https = try freeLoopbackPort()
        let health = try freeLoopbackPort()
        caFile = directory + "/ca.pem"
        try TestPKI().install(names: names, caFile: caFile, in: directory + "/ssl/live/\(names[0])")

        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let profile = try ProfileTable(
            yaml: String(contentsOfFile: repository + "/assets/profiles.yaml", encoding: .utf8)
        )
        .choose(
            for: HostFacts(
                memory: MemoryFacts(totalMiB: 16384, cgroupLimitMiB: nil, limitSource: nil),
                cpu: CPUFacts(online: 4, affinity: 4, cgroupQuota: nil),
                gpu: GPUFacts(vendor: .none, usable: false, reason: "none"),
                os: OSFacts(id: "debian", versionID: "12", prettyName: "Debian 12"), architecture: "x86_64",
                docker: DockerFacts(), disk: nil),
            request: ProfileChoiceRequest())
        var input = try RenderInput(
            mode: .production, domain: DomainName(names[0]), aliases: names.dropFirst().map { try DomainName($0) },
            adminEmail: EmailAddress("admin@shop.test"), httpPort: Port(http), httpsPort: Port(https),
            images: StackImages { service throws(UserError) in try SafeToken(service.rawValue) },
            tls: .acme(directory: SafeToken("/etc/sbs/ssl")), acmeWebroot: SafeToken(directory + "/webroot"),
            profile: profile, backups: false)
        input.hsts = hsts
        let secrets = try Secrets(SecretName.generated.map { ($0, "test-secret-0123456789") })
        let files = try ConfigRenderer.render(
            input, secrets: secrets, templates: TemplateSet.load(assetsRoot: repository))
        let rendered = try #require(files.first { $0.relativePath == "nginx/nginx.conf" }).text
        var config = rendered
        for (from, to) in [
            ("listen 80", "listen 127.0.0.1:\(http)"), ("listen 443", "listen 127.0.0.1:\(https)"),
            ("listen 127.0.0.1:8080", "listen 127.0.0.1:\(health)"),
            ("/etc/nginx/ssl/", directory + "/ssl/"), ("/var/run/nginx.pid", directory + "/nginx.pid"),
            ("error_log stderr warn;", "error_log \(directory)/error.log warn;"),
            ("access_log /dev/stdout;", "access_log off;"),
            ("http://app-api:4000", "http://127.0.0.1:\(health)"),
            ("http://app-web:3000", "http://127.0.0.1:\(health)"),
            ("http://app-kong:8000", "http://127.0.0.1:\(health)"),
            ("http {\n", "http {\n" + NginxProcess.tempPaths(directory) + "\n"),
        ] {
            #expect(config.contains(from), "the rendered nginx.conf no longer holds \(from)")
            config = config.replacingOccurrences(of: from, with: to)
        }
        try await NginxProcess.start(nginx: nginx, directory: directory, config: config)
    }

    func stop() { NginxProcess.stop(directory: directory) }
}

/// Starts and stops an nginx whose files are all in one folder.
enum NginxProcess {
    /// nginx's temp folders in `directory` (the defaults are outside it).
    static func tempPaths(_ directory: String) -> String {
        ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "    \($0)_temp_path \(directory)/tmp/\($0);" }
            .joined(separator: "\n")
    }

    /// Writes `config` to `directory`/nginx.conf and starts nginx on it; its pid file is `directory`/nginx.pid.
    static func start(nginx: String, directory: String, config: String) async throws {
        try AtomicFile.makeDirectories(directory + "/tmp")
        try AtomicFile.write(config, to: directory + "/nginx.conf")
        // nginx forks its master and returns; the runner gives up the output the daemon keeps open.
        let result = try await SystemCommandRunner().run(
            [nginx, "-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/error.log"],
            timeout: .seconds(30))
        guard result.status == 0, AtomicFile.exists(directory + "/nginx.pid") else {
            let log = (try? AtomicFile.readText(directory + "/error.log", limit: .config)) ?? nil
            stop(directory: directory)
            throw UserError("nginx did not start (exit \(result.status)): \(result.stderr) \(log ?? "")")
        }
    }

    static func stop(directory: String) {
        if let text = try? AtomicFile.readText(directory + "/nginx.pid", limit: .config),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(pid, SIGTERM)
            for _ in 0..<100 where AtomicFile.exists(directory + "/nginx.pid") { usleep(20_000) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
