/// An office's outbound proxy: where requests to the internet go, and the names and networks reached directly.
public struct ProxySettings: Sendable, Hashable {
    /// The proxy for `http://` URLs, and for `https://` ones (through CONNECT); nil: those go directly.
    public var http: String?
    public var https: String?
    /// Reached without the proxy, in the form libcurl, Docker and most tools read from `no_proxy`: a host name
    /// (which also covers its subdomains), `.domain`, an IP address, a CIDR network, or `*` for every host.
    public var noProxy: [String]

    public init(http: String?, https: String?, noProxy: [String] = []) {
        self.http = http
        self.https = https
        self.noProxy = noProxy
    }

    /// Never sent through a proxy, whatever the settings say: this server itself (127.0.0.1 by itself too: curl
    /// before 7.86, as Ubuntu 22.04 ships it, reads no CIDR networks in `no_proxy`).
    public static let loopback = ["localhost", "127.0.0.1", "::1", "127.0.0.0/8"]

    /// The settings of a process environment (`http_proxy`, `https_proxy`, `no_proxy`, or their upper-case
    /// forms, lower case first as curl reads them); nil when it names no proxy. `loopback` is added to `no_proxy`.
    public static func environment(_ variables: [String: String]) -> ProxySettings? {
        func value(_ name: String) -> String? {
            for key in [name, name.uppercased()] {
                if let value = variables[key]?.trimmed, !value.isEmpty { return value }
            }
            return nil
        }
        // curl ignores an upper-case HTTP_PROXY (CGI programs get a client's `Proxy:` header under that name).
        let http = variables["http_proxy"]?.trimmed.nonEmpty
        let https = value("https_proxy")
        guard http != nil || https != nil else { return nil }
        let listed = (value("no_proxy") ?? "").split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
        return ProxySettings(http: http, https: https, noProxy: merged(listed, loopback))
    }

    /// `names` followed by those of `more` it does not hold yet.
    public static func merged(_ names: [String], _ more: [String]) -> [String] {
        var result = names
        for name in more where !result.contains(name) { result.append(name) }
        return result
    }

    /// The `no_proxy` value: the entries joined with commas.
    public var noProxyValue: String { noProxy.joined(separator: ",") }

    /// `url` as it may be shown or logged: a user and password (an environment's proxy may carry them) replaced by
    /// `…`.
    public static func shown(_ url: String) -> String {
        guard let scheme = url.firstRange(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else {
            return url
        }
        return String(url[..<scheme.upperBound]) + "…" + String(url[at...])
    }

    /// The proxy for `url`, by its scheme.
    public func proxy(for url: String) -> String? {
        url.lowercased().hasPrefix("https://") ? https : http
    }
}

/// How a request leaves this server.
public enum ProxyRoute: Sendable, Hashable {
    /// Straight to the address, whatever the environment says: this server's own site (`verify` pins 127.0.0.1
    /// with the domain's name, which a proxy would resolve elsewhere), services on the stack's networks.
    case direct
    /// Through the proxy, except for the `noProxy` entries.
    case through(ProxySettings)
}

extension StringProtocol {
    fileprivate var trimmed: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
