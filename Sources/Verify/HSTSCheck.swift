import Deploy
import HTTPClient
import SBSCore

extension SiteChecks {
    /// `header-hsts`: the Strict-Transport-Security header on the web app's HTTPS response says what the answers ask
    /// (`VerifyTarget.hsts`): the same max-age, includeSubDomains and preload exactly when asked. Browsers obey the
    /// first such header only, so several that disagree fail too. Skipped on development installs, which send none.
    func hsts(_ response: HTTPResponse) -> VerifyCheck {
        let id = "header-hsts"
        let values = response.headers(named: "Strict-Transport-Security")
        guard let expected = target.hsts else {
            return .skip(
                id, "development installs do not send HSTS" + (values.first.map { " (it is sent: \($0))" } ?? ""))
        }
        let restart = target.project.commandLine(["restart", "nginx"])
        let remedy =
            "nginx's HTTPS server sends the header the answers asked for when the configuration was written (`add_header Strict-Transport-Security … always`): write it again (`sbs install --from write-configs`) and restart nginx (`\(restart)`). A header the web app or a proxy in front of this server sends must agree too."
        guard let first = values.first else {
            return .fail(
                id, "no Strict-Transport-Security header; the answers ask for \(expected.headerValue)", remedy: remedy)
        }
        if Set(values).count > 1 {
            return .fail(
                id,
                "\(values.count) Strict-Transport-Security headers (\(values.joined(separator: " | "))); browsers obey only the first",
                remedy: remedy)
        }
        let served: HSTSPolicy
        do { served = try HSTSPolicy(header: first) } catch {
            return .fail(id, "Strict-Transport-Security: \(first): \(error.message)", remedy: remedy)
        }
        let differences = Self.differences(served: served, asked: expected)
        if differences.isEmpty {
            return .pass(id, "Strict-Transport-Security: \(first) (as the answers ask)")
        }
        return .fail(
            id,
            "Strict-Transport-Security: \(first); the answers ask for \(expected.headerValue): "
                + differences.joined(separator: ", "),
            remedy: remedy)
    }

    /// Where a served policy differs from the one the answers ask for, each naming its answer.
    static func differences(served: HSTSPolicy, asked: HSTSPolicy) -> [String] {
        var differences: [String] = []
        if served.maxAge != asked.maxAge {
            differences.append("max-age is \(served.maxAge), not \(asked.maxAge) (tls.hsts_max_age)")
        }
        if served.includeSubdomains != asked.includeSubdomains {
            differences.append(
                served.includeSubdomains
                    ? "includeSubDomains is sent, though tls.hsts_include_subdomains is false"
                    : "includeSubDomains is missing (tls.hsts_include_subdomains: true)")
        }
        if served.preload != asked.preload {
            differences.append(
                served.preload
                    ? "preload is sent, though tls.hsts_preload is false"
                    : "preload is missing (tls.hsts_preload: true)")
        }
        return differences
    }
}
