import Host
import SBSCore

/// The image of each service (from the answers), already validated as `SafeToken`s.
public struct StackImages: Sendable, Hashable, Codable {
    public var appDB: SafeToken
    public var appAuth: SafeToken
    public var appAPI: SafeToken
    public var appWeb: SafeToken
    public var appKong: SafeToken
    public var nginx: SafeToken
    public var ollama: SafeToken
    /// Grafana.
    public var monitoring: SafeToken
    public var prometheus: SafeToken
    public var alertmanager: SafeToken

    public init(
        appDB: SafeToken, appAuth: SafeToken, appAPI: SafeToken, appWeb: SafeToken, appKong: SafeToken,
        nginx: SafeToken, ollama: SafeToken, monitoring: SafeToken, prometheus: SafeToken, alertmanager: SafeToken
    ) {
        self.appDB = appDB
        self.appAuth = appAuth
        self.appAPI = appAPI
        self.appWeb = appWeb
        self.appKong = appKong
        self.nginx = nginx
        self.ollama = ollama
        self.monitoring = monitoring
        self.prometheus = prometheus
        self.alertmanager = alertmanager
    }

    public subscript(service: StackService) -> SafeToken {
        switch service {
        case .appDB: return appDB
        case .appAuth: return appAuth
        case .appAPI: return appAPI
        case .appWeb: return appWeb
        case .appKong: return appKong
        case .nginx: return nginx
        case .ollama: return ollama
        case .monitoring: return monitoring
        case .prometheus: return prometheus
        case .alertmanager: return alertmanager
        }
    }
}

/// How nginx gets its certificate. nginx always reads `/etc/nginx/ssl/live/DOMAIN/{fullchain,privkey}.pem`.
public enum TLSSource: Sendable, Hashable, Codable {
    /// sbs's ACME client writes `live/DOMAIN/…` under `directory` (`<root>/etc/sbs/ssl`), mounted at /etc/nginx/ssl.
    case acme(directory: SafeToken)
    /// A self-signed certificate in the same place (LAN-only installs).
    case selfSigned(directory: SafeToken)
    /// The user's own files, mounted one by one at nginx's fixed paths.
    case files(certificate: SafeToken, key: SafeToken)

    public var modeName: String {
        switch self {
        case .acme: return "acme"
        case .selfSigned: return "self-signed"
        case .files: return "files"
        }
    }
}

/// The auth service's mail relay; the password is the secret `SMTP_PASSWORD`.
public struct SMTPSettings: Sendable, Hashable, Codable {
    public var host: DomainName
    public var port: Port
    public var user: SafeToken
    public var sender: EmailAddress

    public init(host: DomainName, port: Port, user: SafeToken, sender: EmailAddress) {
        self.host = host
        self.port = port
        self.user = user
        self.sender = sender
    }
}

/// Who the monitoring's alerts reach: mail to `emails` through the answers' SMTP relay, and/or a webhook whose
/// URL is the secret `ALERTS_WEBHOOK_URL`.
public struct AlertsSettings: Sendable, Hashable, Codable {
    public var emails: [EmailAddress]
    public var webhook: Bool

    public init(emails: [EmailAddress], webhook: Bool) {
        self.emails = emails
        self.webhook = webhook
    }
}

/// Everything the configuration files are rendered from, mapped by the installer from its answers. Every free-text
/// value is one of SBSCore's validated types, so nothing here can break out of a YAML scalar, an nginx directive or
/// a `.env` line.
public struct RenderInput: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Codable {
        case production, development
    }

    public var mode: Mode
    public var domain: DomainName
    /// Extra names on the certificate and in nginx's server_name (e.g. `www.`).
    public var aliases: [DomainName]
    public var adminEmail: EmailAddress
    public var httpPort: Port
    public var httpsPort: Port
    public var images: StackImages
    public var tls: TLSSource
    /// The ACME webroot on the host (`--webroot` of the ACME client), served read-only at /.well-known/acme-challenge/.
    public var acmeWebroot: SafeToken
    public var profile: ResolvedProfile
    /// Nightly database dumps (rendered `backup/backup.sh`; the timer is installed elsewhere).
    public var backups: Bool
    public var smtp: SMTPSettings?
    /// Where the monitoring's alerts go; nil: nowhere yet (Alertmanager runs with a receiver that sends nothing).
    public var alerts: AlertsSettings?
    /// The compose project name (`name:` in docker-compose.yml): `sbs`, or `sbs-…` for an install under another root.
    public var projectName: String = "sbs"

    /// - Throws: `UserError` when a host path is not absolute, an alias repeats the domain or another alias, the two
    ///   ports are equal, or an Ollama model name from the profile is not a plain token.
    public init(
        mode: Mode, domain: DomainName, aliases: [DomainName] = [], adminEmail: EmailAddress,
        httpPort: Port, httpsPort: Port, images: StackImages, tls: TLSSource, acmeWebroot: SafeToken,
        profile: ResolvedProfile, backups: Bool, smtp: SMTPSettings? = nil, alerts: AlertsSettings? = nil
    ) throws(UserError) {
        self.mode = mode
        self.domain = domain
        self.aliases = aliases
        self.adminEmail = adminEmail
        self.httpPort = httpPort
        self.httpsPort = httpsPort
        self.images = images
        self.tls = tls
        self.acmeWebroot = acmeWebroot
        self.profile = profile
        self.backups = backups
        self.smtp = smtp
        self.alerts = alerts
        try validate()
    }

    func validate() throws(UserError) {
        var seen: Set<DomainName> = [domain]
        for alias in aliases {
            guard seen.insert(alias).inserted else {
                throw UserError(
                    "The name \(alias) is listed twice (domain and aliases).", remedy: "List each name once.")
            }
        }
        if httpPort == httpsPort {
            throw UserError(
                "The http and https ports are both \(httpPort).", remedy: "Choose two different ports (80 and 443).")
        }
        var paths: [(String, SafeToken)] = [("ACME webroot", acmeWebroot)]
        switch tls {
        case .acme(let directory), .selfSigned(let directory): paths.append(("certificate folder", directory))
        case .files(let certificate, let key): paths += [("certificate file", certificate), ("key file", key)]
        }
        guard !projectName.isEmpty,
            projectName.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 45 })
        else {
            throw UserError(
                "'\(projectName.debugSafe)' is not a compose project name.",
                remedy: "Use lowercase letters, digits and '-'.")
        }
        for (what, path) in paths where !path.value.hasPrefix("/") {
            throw UserError(
                "The \(what) '\(path.value)' is not an absolute path.", remedy: "Give a path starting with /.")
        }
        for model in profile.ollamaModels {
            _ = try SafeToken(model, what: "Ollama model name")
        }
        if let alerts, !alerts.emails.isEmpty, smtp == nil {
            throw UserError(
                "Alerts are to be mailed (alerts.email), but there is no mail relay.",
                remedy: "Give smtp (host, user, password, sender) in the answers.")
        }
    }

    /// Every name on the certificate: the domain, then the aliases.
    public var allNames: [DomainName] { [domain] + aliases }
}
