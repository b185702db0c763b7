import Foundation
import SBSCore
import Testing

@testable import Render

/// nginx.conf's TLS settings and HSTS header, read back from the rendered file (the real nginx serves them in
/// VerifyTests' NginxSiteTests).
@Suite struct NginxTLSTests {
    static func nginxConf(_ input: RenderInput, secrets: Secrets? = nil) throws -> String {
        let files = try ConfigRenderer.render(
            input, secrets: try secrets ?? fixedSecrets(), templates: Repository.templates())
        return try #require(files.first { $0.relativePath == "nginx/nginx.conf" }).text
    }

    /// Every policy the answers may give, at the edges of max-age: the one header nginx sends reads back as the
    /// same policy.
    static let policies: [HSTSPolicy] = [0, 1, 31_536_000, 63_072_000].flatMap { maxAge in
        [false, true].flatMap { include in
            [false, true].map { HSTSPolicy(maxAge: maxAge, includeSubdomains: include, preload: $0) }
        }
    }.filter { $0.problems.isEmpty }

    @Test(arguments: policies)
    func theHSTSHeaderReadsBackAsThePolicyOfTheAnswers(_ policy: HSTSPolicy) throws {
        let (base, _) = try GoldenCase.minimumBasic.input()
        var input = base
        input.hsts = policy
        let lines = try Self.nginxConf(input).split(separator: "\n").map { $0.trimmed }
            .filter { $0.hasPrefix("add_header Strict-Transport-Security ") }
        try #require(lines.count == 1, "\(lines)")
        let words = lines[0].split(separator: "\"", omittingEmptySubsequences: false)
        try #require(words.count == 3 && words[2] == " always;", "\(lines[0])")
        #expect(try HSTSPolicy(header: String(words[1])) == policy, "\(lines[0])")
        #expect(String(words[1]) == policy.headerValue)

        // Development installs send none, whatever the policy.
        input.mode = .development
        #expect(!(try Self.nginxConf(input)).contains("Strict-Transport-Security"))
    }

    /// A policy the answers refuse is refused here too, naming the answer, before anything is written.
    @Test(arguments: [
        (HSTSPolicy(maxAge: 63_072_001), "tls.hsts_max_age"), (HSTSPolicy(maxAge: -1), "tls.hsts_max_age"),
        (HSTSPolicy(maxAge: 63_072_000, preload: true), "tls.hsts_include_subdomains: true"),
        (HSTSPolicy(maxAge: 31_535_999, includeSubdomains: true, preload: true), "at least 31536000"),
    ])
    func aPolicyTheAnswersRefuseStopsRendering(_ policy: HSTSPolicy, _ named: String) throws {
        var (input, _) = try GoldenCase.minimumBasic.input()
        input.hsts = policy
        let error = #expect(throws: UserError.self) { try Self.nginxConf(input) }
        #expect(error?.message.contains(named) == true, "\(error?.message ?? "-")")
    }

    /// The TLS protocols, curves, ciphers and session settings stand once, in the http block itself, so that every
    /// server of the port (the default one that refuses unknown names included) has them: nginx agrees on the
    /// protocol with the port's default server. Inside a server only its certificate (or the refusal) is set.
    @Test(arguments: GoldenCase.allCases)
    func theTLSSettingsStandInTheHTTPBlockForEveryServer(_ golden: GoldenCase) throws {
        let (input, secrets) = try golden.input()
        // Each directive with its depth in blocks: 1 is the http block, 2 or more a server (or what is in it).
        var depth = 0
        var directives: [(text: String, depth: Int)] = []
        for line in try Self.nginxConf(input, secrets: secrets).split(separator: "\n") {
            let text = String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]).trimmed
            if text.hasPrefix("ssl_") { directives.append((text, depth)) }
            depth += text.filter { $0 == "{" }.count - text.filter { $0 == "}" }.count
        }
        for directive in [
            "ssl_protocols TLSv1.2 TLSv1.3;", "ssl_ecdh_curve X25519:prime256v1:secp384r1;",
            "ssl_prefer_server_ciphers off;", "ssl_session_cache shared:TLS:10m;", "ssl_session_timeout 1d;",
            "ssl_session_tickets off;",
        ] {
            let found = directives.filter { $0.text == directive }
            #expect(found.count == 1 && found.first?.depth == 1, "\(directive): \(found)")
        }
        #expect(directives.contains { $0.text.hasPrefix("ssl_ciphers ECDHE-") && $0.depth == 1 })
        let inServers = directives.filter { $0.depth > 1 }.map(\.text)
        #expect(
            inServers.allSatisfy { $0.hasPrefix("ssl_certificate") || $0 == "ssl_reject_handshake on;" },
            "only the certificate belongs to a server: \(inServers)")
    }
}
