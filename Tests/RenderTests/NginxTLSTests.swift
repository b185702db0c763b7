import Foundation
import SBSCore
import Testing

@testable import Render

/// nginx.conf's TLS settings, read back from the rendered file (the real nginx serves them in VerifyTests'
/// NginxSiteTests).
@Suite struct NginxTLSTests {
    static func nginxConf(_ input: RenderInput, secrets: Secrets? = nil) throws -> String {
        let files = try ConfigRenderer.render(
            input, secrets: try secrets ?? fixedSecrets(), templates: Repository.templates())
        return try #require(files.first { $0.relativePath == "nginx/nginx.conf" }).text
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
