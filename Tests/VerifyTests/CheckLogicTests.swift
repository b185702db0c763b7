import Deploy
import Foundation
import HTTPClient
import Processes
import SBSCore
import Synchronization
import TestSupport
import Testing

@testable import ACME
@testable import Verify

/// The check logic over given HTTP answers and containers (the real exchanges are in NginxSiteTests).
@Suite struct SiteCheckLogicTests {
    static let headers: [(name: String, value: String)] = [
        (name: "Strict-Transport-Security", value: "max-age=63072000"),
        (name: "X-Frame-Options", value: "DENY"), (name: "X-Content-Type-Options", value: "nosniff"),
    ]

    /// A healthy site for `target`: each name presents `chain`.
    static func healthy(
        _ target: VerifyTarget, chain: [String], headers: [(name: String, value: String)] = headers,
        overriding: [String: TableTransport.Answer] = [:]
    ) -> [String: TableTransport.Answer] {
        var answers: [String: TableTransport.Answer] = [
            target.httpURL(target.domain): .response(
                HTTPResponse(status: 301, headers: [(name: "Location", value: target.httpsURL(target.domain))])),
            target.httpsURL(target.domain, "/api/health"): .response(
                HTTPResponse(status: 200, headers: headers, certificates: chain)),
            target.httpsURL(target.domain, "/auth/v1/health"): .response(
                HTTPResponse(status: 200, headers: headers, certificates: chain)),
        ]
        for name in target.names {
            answers[target.httpsURL(name)] = .response(HTTPResponse(status: 200, headers: headers, certificates: chain))
        }
        return answers.merging(overriding) { $1 }
    }

    static let tls13 = TLSSession(version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384")
    static let refused = TableTransport.Answer.failure(.tls, "tlsv1 alert protocol version")

    /// `tls13Only` and `legacyTLSOnly` answer the domain's home page: by default with TLS 1.3, and refusing TLS 1.0
    /// and 1.1.
    static func run(
        _ target: VerifyTarget, _ answers: [String: TableTransport.Answer],
        inspecting: [String: TableTransport.Answer] = [:], tls13Only: TableTransport.Answer? = nil,
        legacyTLSOnly: TableTransport.Answer? = nil, now: Date = Date()
    ) async throws -> [VerifyCheck] {
        let home = target.httpsURL(target.domain)
        return try await SiteChecks(
            target: target,
            transports: SiteTransports(
                verifying: TableTransport(answers), inspecting: TableTransport(inspecting),
                tls13Only: TableTransport([home: tls13Only ?? .response(HTTPResponse(status: 200, tls: tls13))]),
                legacyTLSOnly: TableTransport([home: legacyTLSOnly ?? refused])),
            now: now
        ).run()
    }

    @Test func aHealthySitePassesEverySiteCheckWithWhatWasSeen() async throws {
        let target = makeTarget(httpsPort: 8443)
        let now = wholeSecond()
        let certificate = try CertificateTools.makeSelfSigned(domains: target.names, days: 60, now: now).certificatePEM
        let checks = try await Self.run(target, Self.healthy(target, chain: [certificate]), now: now)
        #expect(checks.map(\.id) == Array(StackVerifier.checkIDs.prefix(9)))
        for check in checks { #expect(check.status == .pass && check.remedy == nil, "\(check)") }
        #expect(checks["http-redirect"]?.detail == "GET http://shop.test/ → 301 https://shop.test:8443/")
        #expect(checks["api-health"]?.detail == "GET https://shop.test:8443/api/health → 200")
        #expect(checks["header-hsts"]?.detail == "Strict-Transport-Security: max-age=63072000 (as the answers ask)")
        #expect(
            checks["tls-protocol"]?.detail
                == "offered TLS 1.3 alone, the server agrees on TLSv1.3 (TLS_AES_256_GCM_SHA384); TLS 1.0 and 1.1 refused"
        )
        let tls = try #require(checks["tls-certificate"])
        #expect(
            tls.detail.contains("shop.test: valid, 60 days left")
                && tls.detail.contains("www.shop.test: valid, 60 days left"), "\(tls.detail)")
    }

    @Test func aRedirectThatIsMissingOrGoesElsewhereFails() async throws {
        let target = makeTarget()
        let chain = [try CertificateTools.makeSelfSigned(domains: target.names).certificatePEM]
        let cases: [(HTTPResponse, String)] = [
            (HTTPResponse(status: 200), "GET http://shop.test/ → 200 without a Location"),
            (
                HTTPResponse(status: 302, headers: [(name: "Location", value: "https://shop.test/")]),
                "→ 302 https://shop.test/"
            ),
            (
                HTTPResponse(status: 301, headers: [(name: "Location", value: "http://shop.test/")]),
                "→ 301 http://shop.test/"
            ),
            (
                HTTPResponse(status: 301, headers: [(name: "Location", value: "https://evil.test/")]),
                "→ 301 https://evil.test/"
            ),
            // The port matters: the stack on 443 must not send clients to another port.
            (
                HTTPResponse(status: 308, headers: [(name: "Location", value: "https://shop.test:8443/")]),
                "→ 308 https://shop.test:8443/"
            ),
        ]
        for (response, seen) in cases {
            let checks = try await Self.run(
                target,
                Self.healthy(target, chain: chain, overriding: [target.httpURL(target.domain): .response(response)]))
            let check = try #require(checks["http-redirect"])
            #expect(
                check.status == .fail && check.detail.contains(seen)
                    && check.detail.contains("expected 301 or 308 to https://shop.test/"), "\(check.detail)")
            #expect(check.remedy?.contains("write-configs") == true)
        }
        // 308 with the host in capitals and a path is a redirect to HTTPS all the same.
        let checks = try await Self.run(
            target,
            Self.healthy(
                target, chain: chain,
                overriding: [
                    target.httpURL(target.domain): .response(
                        HTTPResponse(status: 308, headers: [(name: "location", value: "https://SHOP.test/index.html")]))
                ]))
        #expect(checks["http-redirect"]?.status == .pass)
    }

    @Test func endpointsThatDoNotAnswer200FailAndNameTheServiceToLookAt() async throws {
        let target = makeTarget()
        let chain = [try CertificateTools.makeSelfSigned(domains: target.names).certificatePEM]
        let checks = try await Self.run(
            target,
            Self.healthy(
                target, chain: chain,
                overriding: [
                    target.httpsURL(target.domain, "/api/health"): .response(
                        HTTPResponse(status: 502, headers: Self.headers)),
                    target.httpsURL(target.domain, "/auth/v1/health"): .failure(
                        .connect, "Failed to connect to shop.test port 443: Connection refused"),
                    target.httpsURL(target.domain): .response(
                        HTTPResponse(status: 404, headers: Self.headers, certificates: chain)),
                ]))
        let api = try #require(checks["api-health"])
        #expect(api.status == .fail && api.detail == "GET https://shop.test/api/health → 502; expected 200")
        #expect(
            api.remedy?.contains("logs --tail 50 app-api") == true
                && api.remedy?.contains("--project-name sbs-test") == true)
        let auth = try #require(checks["auth-health"])
        #expect(
            auth.status == .fail && auth.detail.contains("Connection refused") && auth.remedy?.contains("nginx") == true
        )
        #expect(checks["web-app"]?.status == .fail && checks["web-app"]?.detail.contains("→ 404") == true)
        // The headers are read from the web app's answer whatever its status.
        #expect(checks["header-x-frame-options"]?.status == .pass)
    }

    @Test func missingOrWeakSecurityHeadersFailEachOnItsOwn() async throws {
        let target = makeTarget()
        let chain = [try CertificateTools.makeSelfSigned(domains: target.names).certificatePEM]
        let weak: [(name: String, value: String)] = [
            (name: "Strict-Transport-Security", value: "max-age=0"),
            (name: "X-Frame-Options", value: "ALLOW-FROM https://x.test"),
        ]
        let checks = try await Self.run(target, Self.healthy(target, chain: chain, headers: weak))
        #expect(
            checks["header-hsts"]?.status == .fail
                && checks["header-hsts"]?.detail
                    == "Strict-Transport-Security: max-age=0; the answers ask for max-age=63072000: max-age is 0, not 63072000 (tls.hsts_max_age)",
            "\(checks["header-hsts"]?.detail ?? "-")")
        #expect(
            checks["header-x-frame-options"]?.status == .fail
                && checks["header-x-frame-options"]?.detail.contains("expected DENY or SAMEORIGIN") == true)
        #expect(checks["header-x-content-type-options"]?.detail == "no X-Content-Type-Options header")
        for id in ["header-hsts", "header-x-frame-options", "header-x-content-type-options"] {
            #expect(checks[id]?.remedy?.contains("add_header") == true)
        }
        // Development installs send no HSTS on purpose: skipped, with the reason.
        let development = makeTarget(hsts: nil)
        let dev = try await Self.run(
            development, Self.healthy(development, chain: chain, headers: Array(Self.headers.dropFirst())))
        #expect(
            dev["header-hsts"]?.status == .skip && dev["header-hsts"]?.detail == "development installs do not send HSTS"
        )
        #expect(dev["header-x-frame-options"]?.status == .pass)
        // No HTTPS answer at all: the header checks fail and point at web-app.
        let down = try await Self.run(
            target,
            Self.healthy(
                target, chain: chain, overriding: [target.httpsURL(target.domain): .failure(.connect, "refused")]))
        #expect(
            down["header-x-content-type-options"]?.status == .fail
                && down["header-x-content-type-options"]?.detail.contains("see web-app") == true)
    }

    /// The header must say what the answers ask, neither more nor less: each disagreement is named with its answer.
    @Test(arguments: [
        (
            HSTSPolicy.standard, "max-age=63072000; includeSubDomains",
            "includeSubDomains is sent, though tls.hsts_include_subdomains is false"
        ),
        (
            HSTSPolicy(maxAge: 31_536_000, includeSubdomains: true), "max-age=31536000",
            "includeSubDomains is missing (tls.hsts_include_subdomains: true)"
        ),
        (
            HSTSPolicy(maxAge: 63_072_000, includeSubdomains: true, preload: true),
            "max-age=63072000; includeSubDomains", "preload is missing (tls.hsts_preload: true)"
        ),
        (
            HSTSPolicy(maxAge: 63_072_000, includeSubdomains: true),
            "max-age=63072000; includeSubDomains; preload", "preload is sent, though tls.hsts_preload is false"
        ),
        (HSTSPolicy.standard, "max-age=31536000", "max-age is 31536000, not 63072000 (tls.hsts_max_age)"),
        (HSTSPolicy(maxAge: 0), "max-age=300", "max-age is 300, not 0 (tls.hsts_max_age)"),
        (HSTSPolicy.standard, "includeSubDomains", "it has no max-age, which makes browsers ignore the header"),
        (HSTSPolicy.standard, "max-age=1y", "its max-age '1y' is not a number of seconds"),
        (HSTSPolicy.standard, "max-age=63072000; max-age=1", "it gives max-age twice"),
    ])
    func anHSTSHeaderThatDisagreesWithTheAnswersFails(_ asked: HSTSPolicy, _ served: String, _ problem: String)
        async throws
    {
        let target = makeTarget(hsts: asked)
        let chain = [try CertificateTools.makeSelfSigned(domains: target.names).certificatePEM]
        let headers = [(name: "Strict-Transport-Security", value: served)] + Array(Self.headers.dropFirst())
        let check = try #require(
            try await Self.run(target, Self.healthy(target, chain: chain, headers: headers))["header-hsts"])
        #expect(check.status == .fail && check.detail.contains(problem), "\(check.detail)")
        #expect(check.detail.hasPrefix("Strict-Transport-Security: \(served)"), "\(check.detail)")
        #expect(check.remedy?.contains("sbs install --from write-configs") == true)
    }

    /// What the answers ask, written in any letter case and with max-age quoted, passes; two headers that disagree
    /// fail, since browsers obey only the first.
    @Test func anHSTSHeaderAsTheAnswersAskPassesInAnySpelling() async throws {
        let asked = HSTSPolicy(maxAge: 31_536_000, includeSubdomains: true, preload: true)
        let target = makeTarget(hsts: asked)
        let chain = [try CertificateTools.makeSelfSigned(domains: target.names).certificatePEM]
        for served in [asked.headerValue, "Max-Age=\"31536000\" ; PRELOAD;includesubdomains;"] {
            let headers = [(name: "Strict-Transport-Security", value: served)] + Array(Self.headers.dropFirst())
            let check = try await Self.run(target, Self.healthy(target, chain: chain, headers: headers))["header-hsts"]
            #expect(check?.status == .pass, "\(served): \(check?.detail ?? "-")")
        }
        let twice =
            [
                (name: "Strict-Transport-Security", value: "max-age=300"),
                (name: "Strict-Transport-Security", value: asked.headerValue),
            ] + Array(Self.headers.dropFirst())
        let check = try await Self.run(target, Self.healthy(target, chain: chain, headers: twice))["header-hsts"]
        #expect(
            check?.status == .fail
                && check?.detail
                    == "2 Strict-Transport-Security headers (max-age=300 | max-age=31536000; includeSubDomains; preload); browsers obey only the first",
            "\(check?.detail ?? "-")")
    }

    /// TLS 1.3 refused is a failure that says what the server agrees on instead; TLS 1.0 or 1.1 accepted is one too;
    /// no answer at all says so.
    @Test func aServerWithoutTLS13OrWithLegacyTLSFailsTheProtocolCheck() async throws {
        let target = makeTarget()
        let chain = [try CertificateTools.makeSelfSigned(domains: target.names).certificatePEM]
        let home = target.httpsURL(target.domain)
        let noTLS13 = try await Self.run(
            target, Self.healthy(target, chain: chain),
            inspecting: [
                home: .response(
                    HTTPResponse(
                        status: 200, tls: TLSSession(version: "TLSv1.2", cipher: "ECDHE-ECDSA-AES256-GCM-SHA384")))
            ], tls13Only: Self.refused)
        let refused = try #require(noTLS13["tls-protocol"])
        #expect(
            refused.status == .fail
                && refused.detail
                    == "offered TLS 1.3 alone, the server refuses the handshake (tlsv1 alert protocol version); offered every version, it agrees on TLSv1.2 (ECDHE-ECDSA-AES256-GCM-SHA384)",
            "\(refused.detail)")
        #expect(refused.remedy?.contains("default server") == true && refused.remedy?.contains("write-configs") == true)
        #expect(noTLS13.filter { $0.status == .fail }.map(\.id) == ["tls-protocol"])

        let legacy = try await Self.run(
            target, Self.healthy(target, chain: chain),
            legacyTLSOnly: .response(
                HTTPResponse(status: 200, tls: TLSSession(version: "TLSv1.1", cipher: "ECDHE-ECDSA-AES256-SHA"))))
        #expect(
            legacy["tls-protocol"]?.status == .fail
                && legacy["tls-protocol"]?.detail.contains("offered TLS 1.0 and 1.1 alone, it accepts TLSv1.1 too")
                    == true,
            "\(legacy["tls-protocol"]?.detail ?? "-")")

        let silent = try await Self.run(
            target, Self.healthy(target, chain: chain), tls13Only: .failure(.connect, "Connection refused"))
        #expect(
            silent["tls-protocol"]?.status == .fail
                && silent["tls-protocol"]?.detail.hasSuffix("got no answer: Connection refused") == true
                && silent["tls-protocol"]?.remedy?.contains("publishes port 443") == true)
    }

    @Test func aNameTheServerRefusesFailsWithWhatItPresentsInstead() async throws {
        let target = makeTarget(names: ["shop.test", "www.shop.test", "other.test"], trust: .bundle("/etc/ca.pem"))
        let now = wholeSecond()
        let chain = [
            try CertificateTools.makeSelfSigned(domains: ["shop.test", "www.shop.test"], days: 30, now: now)
                .certificatePEM
        ]
        let refused = "SSL: no alternative certificate subject name matches target host name 'other.test'"
        let checks = try await Self.run(
            target,
            Self.healthy(target, chain: chain, overriding: [target.httpsURL("other.test"): .failure(.tls, refused)]),
            inspecting: [target.httpsURL("other.test"): .response(HTTPResponse(status: 200, certificates: chain))],
            now: now)
        let tls = try #require(checks["tls-certificate"])
        #expect(tls.status == .fail)
        #expect(tls.detail.contains("shop.test: valid, 30 days left") && tls.detail.contains("www.shop.test: valid"))
        #expect(
            tls.detail.contains(
                "other.test: refused (\(refused)); it presents a certificate for shop.test, www.shop.test"),
            "\(tls.detail)")
        #expect(tls.detail.hasSuffix("trusting the CA bundle /etc/ca.pem"))
        #expect(tls.remedy?.contains("obtain-certificate") == true && tls.remedy?.contains("/etc/ca.pem") == true)
    }

    @Test func anExpiredOrUnreadableCertificateFails() async throws {
        let target = makeTarget(names: ["shop.test"])
        let now = wholeSecond()
        let chain = [try CertificateTools.makeSelfSigned(domains: ["shop.test"], days: 10, now: now).certificatePEM]
        let later = now.addingTimeInterval(20 * 86400)
        let expired = try await Self.run(target, Self.healthy(target, chain: chain), now: later)
        #expect(
            expired["tls-certificate"]?.status == .fail
                && expired["tls-certificate"]?.detail.contains("shop.test: expired 10 days ago") == true)
        let unread = try await Self.run(target, Self.healthy(target, chain: []))
        #expect(
            unread["tls-certificate"]?.status == .fail
                && unread["tls-certificate"]?.detail.contains("could not be read") == true)
    }
}

@Suite struct StackCheckLogicTests {
    static let pgReady = "app-db pg_isready -U postgres -h localhost"

    static func container(
        _ service: String, state: String = "running", health: String = "healthy",
        publishers: [ComposeContainer.Publisher] = []
    ) -> ComposeContainer {
        ComposeContainer(
            service: service, name: "sbs-test-\(service)-1", state: state, health: health, publishers: publishers)
    }

    static let nginxPorts = [
        ComposeContainer.Publisher(url: "0.0.0.0", targetPort: 80, publishedPort: 80),
        ComposeContainer.Publisher(url: "::", targetPort: 443, publishedPort: 443),
    ]

    static var healthyStack: [ComposeContainer] {
        [
            container("app-db", publishers: [.init(url: "", targetPort: 5432, publishedPort: 0)]),
            container("app-auth"), container("app-api"),
            container("app-web"), container("app-kong", health: ""), container("nginx", publishers: nginxPorts),
            container("ollama"), container("monitoring"), container("prometheus"),
        ]
    }

    static func run(_ target: VerifyTarget, _ probe: FixedProbe) async -> [VerifyCheck] {
        await StackChecks(target: target, probe: probe).run()
    }

    static let targetsQuery = "prometheus wget -q -O - http://127.0.0.1:9090/api/v1/targets?state=active"

    /// Prometheus's `/api/v1/targets` answer for targets `(job, instance, health, lastError)`.
    static func targets(_ list: [(String, String, String, String)]) -> CommandResult {
        let active = list.map { job, instance, health, error in
            #"{"labels":{"job":"\#(job)","instance":"\#(instance)"},"scrapeUrl":"\#(scrapeURL(job, instance))","health":"\#(health)","lastError":"\#(error)"}"#
        }
        return CommandResult(
            status: 0,
            stdout: #"{"status":"success","data":{"activeTargets":["# + active.joined(separator: ",")
                + #"],"droppedTargets":[]}}"#, stderr: "")
    }

    /// Where Prometheus scrapes a target of `job` at `instance`: a site probe through blackbox-exporter.
    static func scrapeURL(_ job: String, _ instance: String) -> String {
        job == "site"
            ? "http://blackbox-exporter:9115/probe?module=site&target=\(instance)" : "http://\(instance)/metrics"
    }

    /// A scrape of the target's exporter from Prometheus's container, as `sbs verify` makes it.
    static func scrape(_ job: String, _ instance: String) -> String {
        "prometheus wget -q -O - " + scrapeURL(job, instance)
    }

    /// An exporter's answer with `metric` at `value`.
    static func exposition(_ metric: String, _ value: Int) -> CommandResult {
        CommandResult(
            status: 0, stdout: "# HELP \(metric) x\n# TYPE \(metric) gauge\n\(metric){} \(value)\n\(metric) \(value)\n",
            stderr: "")
    }

    /// The fresh scrapes of `allUp`'s postgres and site targets, all succeeding.
    static let allUpScrapes = [
        scrape("postgres", "postgres-exporter:9187"): exposition("pg_up", 1),
        scrape("site", "https://shop.test/"): exposition("probe_success", 1),
    ]

    /// Prometheus sends to Alertmanager, which runs with a receiver `person` that sends nothing (no `alerts:`).
    static let alertingNobody = [
        AlertingCheck.alertmanagers: AlertingCheck.sending,
        AlertingCheck.status: CommandResult(
            status: 0,
            stdout:
                #"{"config":{"original":"route:\n  receiver: person\nreceivers:\n- name: person\n- name: heartbeat\n"}}"#,
            stderr: ""),
    ]

    static let allUp = targets([
        ("node", "node-exporter:9100", "up", ""), ("postgres", "postgres-exporter:9187", "up", ""),
        ("kong", "app-kong:8100", "up", ""), ("site", "https://shop.test/", "up", ""),
    ])

    @Test func aHealthyStackPassesAndSaysWhatItSaw() async {
        let target = makeTarget(profile: .init(ollamaModels: ["llama3.1:8b", "nomic-embed-text"], monitoring: true))
        let probe = FixedProbe(
            list: .success(Self.healthyStack),
            results: [
                Self.pgReady: CommandResult(status: 0, stdout: "localhost:5432 - accepting connections\n", stderr: ""),
                "ollama ollama list": CommandResult(
                    status: 0,
                    stdout: """
                        NAME                    ID              SIZE    MODIFIED
                        llama3.1:8b             42182419e950    4.7 GB  2 hours ago
                        nomic-embed-text:latest 0a109f422b47    274 MB  2 hours ago
                        """, stderr: ""),
                Self.targetsQuery: Self.allUp,
            ].merging(Self.allUpScrapes) { $1 }.merging(Self.alertingNobody) { $1 })
        let checks = await Self.run(target, probe)
        #expect(checks.map(\.id) == Array(StackVerifier.checkIDs.dropFirst(9).prefix(8)))
        for check in checks { #expect(check.status == .pass, "\(check)") }
        #expect(checks["database"]?.detail == "pg_isready: localhost:5432 - accepting connections")
        #expect(checks["containers"]?.detail.hasPrefix("9 running (8 healthy by their healthcheck)") == true)
        #expect(checks["models"]?.detail == "present: llama3.1:8b, nomic-embed-text")
        #expect(checks["grafana"]?.detail == "sbs-test-monitoring-1: running, healthy")
        #expect(checks["monitoring-targets"]?.detail == "4 targets up (kong, node, postgres, site)")
        #expect(checks["published-ports"]?.detail == "only nginx 0.0.0.0:80→80/tcp, nginx [::]:443→443/tcp")
    }

    @Test func unhealthyContainersMissingModelsAndExtraPortsFailByName() async {
        let target = makeTarget(profile: .init(ollamaModels: ["llama3.1:8b", "mistral:7b"], monitoring: true))
        var stack = Self.healthyStack
        stack[1] = Self.container("app-auth", state: "restarting", health: "")
        stack[2] = Self.container("app-api", health: "unhealthy")
        stack[7] = Self.container("monitoring", health: "starting")
        stack[0].publishers = [.init(url: "0.0.0.0", targetPort: 5432, publishedPort: 5432)]
        // Loopback-only publishing is not public.
        stack[8].publishers = [.init(url: "127.0.0.1", targetPort: 9090, publishedPort: 9090)]
        stack[5].publishers += [.init(url: "0.0.0.0", targetPort: 8080, publishedPort: 8080)]
        let probe = FixedProbe(
            list: .success(stack),
            results: [
                Self.pgReady: CommandResult(status: 2, stdout: "localhost:5432 - no response\n", stderr: ""),
                "ollama ollama list": CommandResult(
                    status: 0, stdout: "NAME ID SIZE MODIFIED\nllama3.1:8b 42182419e950 4.7 GB 1 hour ago\n", stderr: ""
                ),
                Self.targetsQuery: Self.targets([
                    ("node", "node-exporter:9100", "up", ""),
                    ("postgres", "postgres-exporter:9187", "down", "server returned HTTP status 500"),
                    ("kong", "app-kong:8100", "down", "server returned HTTP status 404 Not Found"),
                    ("site", "https://shop.test/", "unknown", ""),
                ]),
                Self.reach("site", "https://shop.test/"): CommandResult(
                    status: 1, stdout: "", stderr: "wget: server returned error: HTTP/1.1 502 Bad Gateway\n"),
                Self.reach("postgres", "postgres-exporter:9187"): CommandResult(
                    status: 1, stdout: "", stderr: "wget: server returned error: HTTP/1.1 500 Internal Server Error\n"),
                Self.reach("kong", "app-kong:8100"): CommandResult(
                    status: 1, stdout: "", stderr: "wget: server returned error: HTTP/1.1 404 Not Found\n"),
            ].merging(Self.alertingNobody) { $1 })
        let checks = await Self.run(target, probe)
        #expect(
            checks["database"]?.status == .fail
                && checks["database"]?.detail == "pg_isready in app-db: exit 2: localhost:5432 - no response")
        let containers = checks["containers"]
        #expect(containers?.status == .fail)
        #expect(
            containers?.detail
                == "not running and healthy: sbs-test-app-auth-1 (restarting), sbs-test-app-api-1 (running, unhealthy), sbs-test-monitoring-1 (running, starting); 6 of 9 are"
        )
        #expect(containers?.remedy?.contains("logs --tail 50 app-api app-auth monitoring") == true)
        #expect(
            checks["models"]?.status == .fail
                && checks["models"]?.detail == "missing: mistral:7b (ollama has llama3.1:8b)")
        #expect(checks["models"]?.remedy?.contains("exec ollama ollama pull mistral:7b") == true)
        #expect(
            checks["grafana"]?.status == .fail
                && checks["grafana"]?.detail == "sbs-test-monitoring-1: running, starting")
        let ports = checks["published-ports"]
        #expect(ports?.status == .fail)
        #expect(
            ports?.detail
                == "published on public addresses besides nginx's 80 and 443: app-db 0.0.0.0:5432→5432/tcp, nginx 0.0.0.0:8080→8080/tcp"
        )
        #expect(ports?.remedy?.contains("app-db, nginx") == true)
        #expect(
            checks["monitoring-targets"]?.status == .fail
                && checks["monitoring-targets"]?.detail
                    == "3 of 4 targets not up: postgres postgres-exporter:9187: server returned HTTP status 500; kong app-kong:8100: server returned HTTP status 404 Not Found; site https://shop.test/: not scraped yet, and no answer now (wget: server returned error: HTTP/1.1 502 Bad Gateway)"
        )
        // The remedy says which service a job is: kong is app-kong's Status API.
        #expect(checks["monitoring-targets"]?.remedy?.contains("kong: app-kong's Status API on port 8100") == true)
        for check in checks where check.status == .fail {
            #expect(check.remedy?.isEmpty == false, "\(check.id) fails without a remedy")
        }
    }

    @Test func checksThatDoNotApplyAreSkippedWithTheReason() async {
        // No Ollama, no monitoring: neither `ollama list` nor Grafana is asked for (the probe fails closed).
        let target = makeTarget(profile: .init(ollamaModels: nil, monitoring: false))
        let probe = FixedProbe(
            list: .success(Array(Self.healthyStack.prefix(6))),
            results: [
                Self.pgReady: CommandResult(status: 0, stdout: "", stderr: "")
            ])
        let checks = await Self.run(target, probe)
        #expect(checks["models"] == .skip("models", "this profile runs no local Ollama"))
        #expect(checks["grafana"] == .skip("grafana", "monitoring is off in this profile"))
        #expect(checks["monitoring-targets"] == .skip("monitoring-targets", "monitoring is off in this profile"))
        #expect(checks["containers"]?.status == .pass && checks["published-ports"]?.status == .pass)
    }

    @Test func dockerThatDoesNotAnswerFailsEveryDockerCheckWithTheError() async {
        let error = UserError(
            "`docker compose ps` failed (exit 1): Cannot connect to the Docker daemon",
            remedy: "Check that the Docker engine runs (`docker info`).")
        let probe = FixedProbe(
            list: .failure(error),
            results: [
                Self.pgReady: CommandResult(
                    status: 1, stdout: "", stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"),
                "ollama ollama list": CommandResult(
                    status: 1, stdout: "", stderr: "Cannot connect to the Docker daemon"),
                Self.targetsQuery: CommandResult(
                    status: 1, stdout: "", stderr: "Cannot connect to the Docker daemon"),
                AlertingCheck.alertmanagers: CommandResult(
                    status: 1, stdout: "", stderr: "Cannot connect to the Docker daemon"),
            ])
        let checks = await Self.run(makeTarget(profile: .init(ollamaModels: [], monitoring: true)), probe)
        #expect(checks.count == 8)
        for check in checks {
            #expect(
                check.status == .fail && check.detail.contains("Cannot connect to the Docker daemon")
                    && check.remedy != nil, "\(check)")
        }
        // An unknown profile (choose-profile never ran) is a failure, not a silent skip.
        let unknown = await Self.run(
            makeTarget(profile: nil),
            FixedProbe(
                list: .success(Self.healthyStack),
                results: [
                    Self.pgReady: CommandResult(status: 0, stdout: "", stderr: "")
                ]))
        #expect(
            unknown["models"]?.status == .fail && unknown["grafana"]?.status == .fail
                && unknown["monitoring-targets"]?.status == .fail)
        #expect(unknown["models"]?.detail == "the profile is not known (choose-profile has not run)")
    }

    /// Prometheus lists its targets in turn with each of `answers` (the last one again after that); the exporters
    /// answer fresh scrapes with `scrapes` (the successful ones of `allUp` unless given), or in turn with each of
    /// `sequences`.
    final class SequenceProbe: StackProbe {
        let answers: [CommandResult]
        let scrapes: [String: CommandResult]
        let sequences: Mutex<[String: [CommandResult]]>
        let calls = Mutex(0)
        init(
            answers: [CommandResult], scrapes: [String: CommandResult] = StackCheckLogicTests.allUpScrapes,
            sequences: [String: [CommandResult]] = [:]
        ) {
            self.answers = answers
            self.scrapes = scrapes
            self.sequences = Mutex(sequences)
        }
        func containers() async throws(UserError) -> [ComposeContainer] { [] }
        func engineContainers() async throws(UserError) -> [ContainerPrivileges] { [] }
        func exec(_ service: String, _ argv: [String]) async throws(UserError) -> CommandResult {
            let command = ([service] + argv).joined(separator: " ")
            let next = sequences.withLock { sequences -> CommandResult? in
                guard let first = sequences[command]?.first else { return nil }
                if sequences[command]!.count > 1 { sequences[command]!.removeFirst() }
                return first
            }
            if let next { return next }
            if let scrape = scrapes[command] { return scrape }
            #expect(command == StackCheckLogicTests.targetsQuery)
            return calls.withLock { calls in
                defer { calls += 1 }
                return answers[min(calls, answers.count - 1)]
            }
        }
    }

    /// A reachability scrape of `instance`'s exporter from Prometheus's container, as `sbs verify` makes it for a
    /// target Prometheus has not scraped yet.
    static func reach(_ job: String, _ instance: String) -> String {
        "prometheus wget -q -O /dev/null " + scrapeURL(job, instance)
    }

    @Test func targetsNotScrapedYetAreScrapedNowAndDownOnesNamed() async {
        let target = makeTarget(profile: .init(ollamaModels: nil, monitoring: true))
        let unscraped = Self.targets([
            ("node", "node-exporter:9100", "unknown", ""), ("site", "https://shop.test/", "up", ""),
        ])
        // Not scraped by Prometheus yet, but it answers now: a pass, at once.
        let answering = SequenceProbe(
            answers: [unscraped],
            scrapes: Self.allUpScrapes.merging([
                Self.reach("node", "node-exporter:9100"): CommandResult(status: 0, stdout: "", stderr: "")
            ]) { $1 })
        let passed = await StackChecks(target: target, probe: answering).monitoringTargets()
        #expect(passed == .pass("monitoring-targets", "2 targets up (node, site)"), "\(passed)")
        #expect(answering.calls.withLock { $0 } == 1)
        // Not scraped yet, and no answer now: a failure naming it and wget's error.
        let silent = SequenceProbe(
            answers: [unscraped],
            scrapes: Self.allUpScrapes.merging([
                Self.reach("node", "node-exporter:9100"): CommandResult(
                    status: 1, stdout: "", stderr: "wget: can't connect to remote host: Connection refused\n")
            ]) { $1 })
        let failed = await StackChecks(target: target, probe: silent).monitoringTargets()
        #expect(
            failed.status == .fail
                && failed.detail
                    == "1 of 2 targets not up: node node-exporter:9100: not scraped yet, and no answer now (wget: can't connect to remote host: Connection refused)",
            "\(failed)")
        // A target that is down, and does not answer now either, is named with Prometheus's error.
        let downTargets = Self.targets([
            ("node", "node-exporter:9100", "down", "connection refused"), ("site", "https://shop.test/", "up", ""),
        ])
        let down = SequenceProbe(
            answers: [downTargets],
            scrapes: Self.allUpScrapes.merging([
                Self.reach("node", "node-exporter:9100"): CommandResult(
                    status: 1, stdout: "", stderr: "wget: can't connect to remote host: Connection refused\n")
            ]) { $1 })
        let named = await StackChecks(target: target, probe: down).monitoringTargets()
        #expect(
            named.status == .fail
                && named.detail == "1 of 2 targets not up: node node-exporter:9100: connection refused")
        // Down at its last scrape, but it answers now (recreated since): a pass.
        let recovered = SequenceProbe(
            answers: [downTargets],
            scrapes: Self.allUpScrapes.merging([
                Self.reach("node", "node-exporter:9100"): CommandResult(status: 0, stdout: "", stderr: "")
            ]) { $1 })
        let back = await StackChecks(target: target, probe: recovered).monitoringTargets()
        #expect(back == .pass("monitoring-targets", "2 targets up (node, site)"), "\(back)")
        // Every target up, but postgres-exporter cannot log in, a probe failed, one answers without the sample: each
        // named.
        let three = Self.targets([
            ("postgres", "postgres-exporter:9187", "up", ""), ("site", "https://shop.test/api/health", "up", ""),
            ("site", "https://shop.test/", "up", ""), ("node", "node-exporter:9100", "up", ""),
        ])
        let failing = SequenceProbe(
            answers: [three],
            scrapes: [
                Self.scrape("postgres", "postgres-exporter:9187"): Self.exposition("pg_up", 0),
                Self.scrape("site", "https://shop.test/api/health"): Self.exposition("probe_success", 0),
                Self.scrape("site", "https://shop.test/"): CommandResult(
                    status: 0, stdout: "probe_http_ssl 1\n", stderr: ""),
            ])
        let exporters = await StackChecks(target: target, probe: failing, retryPause: .zero)
            .monitoringTargets()
        #expect(
            exporters.status == .fail
                && exporters.detail
                    == "postgres: postgres-exporter cannot read app-db (pg_up 0); site https://shop.test/api/health: the probe failed (probe_success 0); site https://shop.test/: the probe failed (probe_success missing)",
            "\(exporters)")
        // The same targets, each succeeding now: a pass (Prometheus's older samples are not what counts).
        let fresh = SequenceProbe(
            answers: [three],
            scrapes: [
                Self.scrape("postgres", "postgres-exporter:9187"): Self.exposition("pg_up", 1),
                Self.scrape("site", "https://shop.test/api/health"): Self.exposition("probe_success", 1),
                Self.scrape("site", "https://shop.test/"): Self.exposition("probe_success", 1),
            ])
        let passing = await StackChecks(target: target, probe: fresh).monitoringTargets()
        #expect(passing == .pass("monitoring-targets", "4 targets up (node, postgres, site)"))
        // app-db restarted: postgres-exporter's first scrape finds its connection broken (pg_up 0), the next one
        // reconnects. Scraped once more, a pass.
        let restarted = SequenceProbe(
            answers: [Self.allUp],
            sequences: [
                Self.scrape("postgres", "postgres-exporter:9187"): [
                    Self.exposition("pg_up", 0), Self.exposition("pg_up", 1),
                ]
            ])
        let reconnected = await StackChecks(
            target: target, probe: restarted, retryPause: .milliseconds(10)
        ).monitoringTargets()
        #expect(reconnected.status == .pass, "\(reconnected)")
        // What is not Prometheus's answer, or no target at all, is a failure.
        for text in [
            "", "<html>", #"{"status":"success","data":{"activeTargets":[]}}"#,
            #"{"status":"error","data":{"activeTargets":[]}}"#,
        ] {
            let odd = SequenceProbe(answers: [CommandResult(status: 0, stdout: text, stderr: "")])
            let check = await StackChecks(target: target, probe: odd).monitoringTargets()
            #expect(check.status == .fail, "\(text)")
        }
    }

    @Test func theExecCommandIsComposeExecWithoutATerminal() async throws {
        #expect(
            try await testProject.exec("app-db", ["pg_isready", "-U", "postgres"], runner: RefusingRunner()) == [
                "docker", "compose", "--project-name", "sbs-test", "--project-directory", "/opt/sbs", "--file",
                "/opt/sbs/docker-compose.yml",
                "exec", "-T", "app-db", "pg_isready", "-U", "postgres",
            ])
    }

    @Test func publishersAreReadFromComposeAndTheirAbsenceIsTolerated() throws {
        let lines = """
            {"Service":"nginx","Name":"sbs-nginx-1","State":"running","Health":"healthy","Publishers":[{"URL":"0.0.0.0","TargetPort":443,"PublishedPort":443,"Protocol":"tcp"},{"URL":"::","TargetPort":80,"PublishedPort":80,"Protocol":"tcp"}]}
            {"Service":"app-db","Name":"sbs-app-db-1","State":"running","Health":"healthy","Publishers":null}
            {"Service":"app-web","Name":"sbs-app-web-1","State":"running","Health":""}
            {"Service":"app-api","State":"running","Publishers":[{"TargetPort":4000}]}
            """
        let containers = try ComposeContainer.parse(lines)
        #expect(
            containers[0].publishers == [
                .init(url: "0.0.0.0", targetPort: 443, publishedPort: 443),
                .init(url: "::", targetPort: 80, publishedPort: 80),
            ])
        #expect(containers[1].publishers.isEmpty && containers[2].publishers.isEmpty)
        #expect(containers[3].publishers == [.init(url: "", targetPort: 4000, publishedPort: 0)])
        #expect(ComposeContainer.Publisher(url: "127.0.0.1", targetPort: 1, publishedPort: 1).isLoopback)
        #expect(!ComposeContainer.Publisher(url: "0.0.0.0", targetPort: 1, publishedPort: 1).isLoopback)
    }
}

/// Now, to the second: certificates keep whole seconds, so days left from a fractional now would be one short.
func wholeSecond() -> Date { Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)) }
