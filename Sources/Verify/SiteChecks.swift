import ACME
import Deploy
import FoundationEssentials
import Glibc
import HTTPClient
import SBSCore
import SwiftASN1
import X509

/// The ways the site checks talk HTTP. Each sends every request to `VerifyTarget.address` with the real name in
/// the URL (libcurl's resolve), so the SNI and Host are the domain's.
public struct SiteTransports: Sendable {
    /// Verifies certificates against the target's trust and keeps the chain each server presents.
    public var verifying: any HTTPTransport
    /// Accepts any certificate: used only after a verified request failed, to say what the server presented.
    public var inspecting: any HTTPTransport
    /// Accepts any certificate and offers TLS 1.3 alone: `tls-protocol` asks whether the server takes it.
    public var tls13Only: any HTTPTransport
    /// Accepts any certificate and offers TLS 1.0 and 1.1 alone: `tls-protocol` asks whether the server refuses them.
    public var legacyTLSOnly: any HTTPTransport

    public init(
        verifying: any HTTPTransport, inspecting: any HTTPTransport, tls13Only: any HTTPTransport,
        legacyTLSOnly: any HTTPTransport
    ) {
        self.verifying = verifying
        self.inspecting = inspecting
        self.tls13Only = tls13Only
        self.legacyTLSOnly = legacyTLSOnly
    }

    /// libcurl transports for `target`: redirects not followed, short timeouts, the chain and the agreed protocol
    /// kept.
    public static func curl(for target: VerifyTarget) -> SiteTransports {
        func options(verify: Bool, versions: ClosedRange<TLSVersion>? = nil) -> HTTPOptions {
            HTTPOptions(
                caBundle: verify ? target.trust.caFile : nil, resolve: target.resolve, connectTimeout: .seconds(5),
                timeout: .seconds(20), userAgent: "sbs-verify (libcurl)", maxResponseBytes: 1 << 20,
                certificateChain: true, verifyPeer: verify, tlsVersions: versions)
        }
        return SiteTransports(
            verifying: CurlTransport(options: options(verify: true)),
            inspecting: CurlTransport(options: options(verify: false)),
            tls13Only: CurlTransport(options: options(verify: false, versions: .tls1_3 ... .tls1_3)),
            legacyTLSOnly: CurlTransport(options: options(verify: false, versions: .tls1_0 ... .tls1_1)))
    }
}

/// Why a request got no response, in one line.
struct FetchFailure: Error {
    var detail: String
    var kind: HTTPTransportError.Kind
}

/// The checks made over HTTP and TLS: `http-redirect`, `web-app`, `api-health`, `auth-health`, `header-hsts`,
/// `header-x-frame-options`, `header-x-content-type-options`, `tls-certificate`, `tls-protocol`.
struct SiteChecks: Sendable {
    let target: VerifyTarget
    let transports: SiteTransports
    let now: Date

    /// - Throws: only `CancellationError`; every other failure is a failed check.
    func run() async throws -> [VerifyCheck] {
        var checks = [try await redirect()]
        let web = try await fetch(transports.verifying, target.httpsURL(target.domain, "/"))
        checks.append(status("web-app", path: "/", web, services: ["app-web"]))
        checks.append(
            status(
                "api-health", path: "/api/health",
                try await fetch(transports.verifying, target.httpsURL(target.domain, "/api/health")),
                services: ["app-api"]))
        checks.append(
            status(
                "auth-health", path: "/auth/v1/health",
                try await fetch(transports.verifying, target.httpsURL(target.domain, "/auth/v1/health")),
                services: ["app-kong", "app-auth"]))
        checks += headers(web)
        checks.append(try await certificate())
        checks.append(try await protocols())
        return checks
    }

    func fetch(_ transport: any HTTPTransport, _ url: String) async throws -> Result<HTTPResponse, FetchFailure> {
        do {
            return .success(try await transport.send(HTTPRequest(method: .get, url: url)))
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPTransportError {
            return .failure(FetchFailure(detail: error.detail, kind: error.kind))
        } catch {
            return .failure(FetchFailure(detail: String(describing: error), kind: .other))
        }
    }

    var logs: (String) -> String {
        { service in "`" + target.project.commandLine(["logs", "--tail", "50", service]) + "`" }
    }

    /// Plain HTTP on the domain must answer 301 or 308 with `Location: https://DOMAIN[:HTTPS-PORT]/…`.
    func redirect() async throws -> VerifyCheck {
        let url = target.httpURL(target.domain, "/")
        let expected = target.httpsURL(target.domain, "/")
        switch try await fetch(transports.verifying, url) {
        case .failure(let failure):
            return .fail(
                "http-redirect", "GET \(url) got no answer: \(failure.detail)",
                remedy:
                    "Check that nginx runs and publishes port \(target.httpPort) (\(logs("nginx"))), and that no firewall drops it."
            )
        case .success(let response):
            let location = response.header("Location")
            if [301, 308].contains(response.status), let location,
                location.lowercased().hasPrefix(expected.lowercased())
            {
                return .pass("http-redirect", "GET \(url) → \(response.status) \(location)")
            }
            return .fail(
                "http-redirect",
                "GET \(url) → \(response.status)\(location.map { " \($0)" } ?? " without a Location"); expected 301 or 308 to \(expected)…",
                remedy:
                    "nginx's port-\(target.httpPort) server must redirect to HTTPS. Write the configuration again (`sbs install --from write-configs`) and check that nginx runs nginx.conf, not bootstrap.conf (NGINX_CONF in \(target.project.directory)/.env)."
            )
        }
    }

    /// An HTTPS endpoint of the domain must answer 200.
    func status(_ id: String, path: String, _ result: Result<HTTPResponse, FetchFailure>, services: [String])
        -> VerifyCheck
    {
        let url = target.httpsURL(target.domain, path)
        let serviceLogs = services.map(logs).joined(separator: " and ")
        switch result {
        case .failure(let failure):
            return .fail(
                id, "GET \(url) got no answer: \(failure.detail)",
                remedy: failure.kind == .tls
                    ? "The TLS handshake failed: see tls-certificate."
                    : "Check that nginx runs and publishes port \(target.httpsPort) (\(logs("nginx"))).")
        case .success(let response) where response.status == 200:
            return .pass(id, "GET \(url) → 200")
        case .success(let response):
            return .fail(
                id, "GET \(url) → \(response.status); expected 200",
                remedy: response.status == 502 || response.status == 503 || response.status == 504
                    ? "nginx cannot reach \(services.joined(separator: "/")): look at \(serviceLogs), and `sbs verify` again once it is healthy."
                    : "Look at \(serviceLogs) and \(logs("nginx")).")
        }
    }

    /// The security headers on the web app's HTTPS response (nginx adds them to every response, errors included).
    func headers(_ web: Result<HTTPResponse, FetchFailure>) -> [VerifyCheck] {
        let remedy =
            "nginx's HTTPS server sends it (`add_header … always`): write the configuration again (`sbs install --from write-configs`) and restart nginx."
        let ids = ["header-hsts", "header-x-frame-options", "header-x-content-type-options"]
        guard case .success(let response) = web else {
            return ids.map { id in
                if id == "header-hsts" && target.hsts == nil {
                    return .skip(id, "development installs do not send HSTS")
                }
                return .fail(id, "no HTTPS response to read it from (see web-app)", remedy: "Make web-app pass first.")
            }
        }
        var checks = [hsts(response)]
        let frame = response.header("X-Frame-Options")
        if let frame, ["deny", "sameorigin"].contains(frame.lowercased()) {
            checks.append(.pass(ids[1], "X-Frame-Options: \(frame)"))
        } else {
            checks.append(
                .fail(
                    ids[1],
                    frame.map { "X-Frame-Options: \($0); expected DENY or SAMEORIGIN" } ?? "no X-Frame-Options header",
                    remedy: remedy))
        }
        let sniff = response.header("X-Content-Type-Options")
        if let sniff, sniff.lowercased() == "nosniff" {
            checks.append(.pass(ids[2], "X-Content-Type-Options: \(sniff)"))
        } else {
            checks.append(
                .fail(
                    ids[2],
                    sniff.map { "X-Content-Type-Options: \($0); expected nosniff" }
                        ?? "no X-Content-Type-Options header",
                    remedy: remedy))
        }
        return checks
    }

    /// Each name, with its own SNI: the certificate the server presents is trusted and valid for that name. The
    /// detail gives the days left of each; when one is refused, what the server presented instead.
    func certificate() async throws -> VerifyCheck {
        var lines: [String] = []
        var failed = false
        for name in target.names {
            let url = target.httpsURL(name, "/")
            switch try await fetch(transports.verifying, url) {
            case .success(let response):
                guard let leaf = Self.leaf(response) else {
                    failed = true
                    lines.append("\(name): accepted, but the presented certificate could not be read")
                    continue
                }
                let days = daysLeft(leaf)
                if leaf.notValidAfter <= now {
                    failed = true
                    let ago = Int((now.timeIntervalSince(leaf.notValidAfter) / 86400).rounded(.down))
                    lines.append(
                        "\(name): expired \(ago) day\(ago == 1 ? "" : "s") ago (\(Self.format(leaf.notValidAfter)))")
                } else {
                    lines.append(
                        "\(name): valid, \(days) day\(days == 1 ? "" : "s") left (until \(Self.format(leaf.notValidAfter)))"
                    )
                }
            case .failure(let failure):
                failed = true
                var line = "\(name): refused (\(failure.detail))"
                if failure.kind == .tls, case .success(let seen) = try await fetch(transports.inspecting, url),
                    let leaf = Self.leaf(seen)
                {
                    let names = CertificateTools.dnsNames(of: leaf)
                    line +=
                        "; it presents a certificate for \(names.isEmpty ? "no DNS name" : names.joined(separator: ", ")) from \(leaf.issuer), \(daysLeft(leaf)) days left"
                }
                lines.append(line)
            }
        }
        let detail = lines.joined(separator: "; ") + " — trusting \(target.trust.description)"
        if !failed { return .pass("tls-certificate", detail) }
        let remedy: String
        switch target.trust {
        case .installedCertificate:
            remedy =
                "nginx must serve the installed certificate for every name: restart it (`"
                + target.project.commandLine(["restart", "nginx"])
                + "`), or make a new one with `sbs install --from obtain-certificate`."
        case .bundle(let path):
            remedy =
                "Obtain a certificate for every name from the CA whose root is in \(path) (`sbs install --from obtain-certificate`), then restart nginx (`"
                + target.project.commandLine(["restart", "nginx"]) + "`)."
        case .system:
            remedy =
                "Obtain a certificate for every name from a public CA (`sbs install --from obtain-certificate`; letsencrypt-staging certificates are not trusted), then restart nginx (`"
                + target.project.commandLine(["restart", "nginx"]) + "`)."
        }
        return .fail("tls-certificate", detail, remedy: remedy)
    }

    func daysLeft(_ leaf: Certificate) -> Int {
        Int((leaf.notValidAfter.timeIntervalSince(now) / 86400).rounded(.down))
    }

    static func leaf(_ response: HTTPResponse) -> Certificate? {
        guard let pem = response.certificates.first else { return nil }
        return try? Certificate(pemEncoded: pem)
    }

    static func format(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)) }
}
