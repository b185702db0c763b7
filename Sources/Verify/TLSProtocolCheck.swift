import Deploy
import HTTPClient
import SBSCore

extension SiteChecks {
    /// `tls-protocol`: offered TLS 1.3 alone, the server agrees on it; offered TLS 1.0 and 1.1 alone, it refuses.
    /// Any certificate is accepted here: whether it is trusted is `tls-certificate`'s question.
    ///
    /// nginx agrees on the protocol with the default server of the port (here the one that refuses unknown names),
    /// before it reads the name the client asks for: `ssl_protocols` in the site's server block alone leaves nginx
    /// before 1.23.4 at its default, TLS 1.0 to 1.2.
    func protocols() async throws -> VerifyCheck {
        let id = "tls-protocol"
        let url = target.httpsURL(target.domain, "/")
        let restart = target.project.commandLine(["restart", "nginx"])
        let remedy =
            "nginx takes the TLS protocols of port \(target.httpsPort) from the port's default server, not from the site's: sbs's nginx.conf sets them for every server in its http block. Write the configuration again (`sbs install --from write-configs`) and restart nginx (`\(restart)`)."
        let unreachable =
            "Check that nginx runs and publishes port \(target.httpsPort) (\(logs("nginx"))), then `sbs verify` again."
        let agreed: String
        switch try await fetch(transports.tls13Only, url) {
        case .failure(let failure) where failure.kind != .tls:
            return .fail(id, "GET \(url) offering TLS 1.3 alone got no answer: \(failure.detail)", remedy: unreachable)
        case .failure(let failure):
            var detail = "offered TLS 1.3 alone, the server refuses the handshake (\(failure.detail))"
            if case .success(let seen) = try await fetch(transports.inspecting, url), let session = seen.tls {
                detail += "; offered every version, it agrees on \(session.version) (\(session.cipher))"
            }
            return .fail(id, detail, remedy: remedy)
        case .success(let response):
            agreed = response.tls.map { "\($0.version) (\($0.cipher))" } ?? "TLS 1.3"
        }
        switch try await fetch(transports.legacyTLSOnly, url) {
        case .success(let response):
            return .fail(
                id,
                "offered TLS 1.3 alone, the server agrees on \(agreed); offered TLS 1.0 and 1.1 alone, it accepts \(response.tls?.version ?? "one of them") too (browsers dropped both in 2020)",
                remedy: remedy)
        case .failure(let failure) where failure.kind != .tls:
            return .fail(
                id,
                "offered TLS 1.3 alone, the server agrees on \(agreed); offering TLS 1.0 and 1.1 alone got no answer: \(failure.detail)",
                remedy: unreachable)
        case .failure:
            return .pass(id, "offered TLS 1.3 alone, the server agrees on \(agreed); TLS 1.0 and 1.1 refused")
        }
    }
}
