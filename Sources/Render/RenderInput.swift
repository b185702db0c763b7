import Host
import SBSCore

/// The image of each service (from the answers), already validated as `SafeToken`s.
public struct StackImages: Sendable, Hashable, Codable {
    private var images: [StackService: SafeToken]

    /// - Throws: what `image` throws for a service.
    public init(_ image: (StackService) throws(UserError) -> SafeToken) throws(UserError) {
        var images: [StackService: SafeToken] = [:]
        for service in StackService.allCases { images[service] = try image(service) }
        self.images = images
    }

    public subscript(service: StackService) -> SafeToken {
        guard let image = images[service] else { preconditionFailure("no image for \(service.rawValue)") }
        return image
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Keyed by the services' compose names in a fixed order: a dictionary keyed by an enum would be encoded in
    /// its hash order, which changes from run to run (and with it the fingerprint of every step that holds this).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for service in StackService.allCases {
            try container.encode(self[service], forKey: Key(stringValue: service.rawValue))
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var images: [StackService: SafeToken] = [:]
        for service in StackService.allCases {
            images[service] = try container.decode(SafeToken.self, forKey: Key(stringValue: service.rawValue))
        }
        self.images = images
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
    /// How long a problem lasts before its alert fires, and Alertmanager's pause between notices of one alert.
    public var alertTimings: AlertTimings = .standard
    /// The Strict-Transport-Security header nginx sends in production.
    public var hsts: HSTSPolicy = .standard
    /// The compose project name (`name:` in docker-compose.yml): `sbs`, or `sbs-…` for an install under another root.
    public var projectName: String = "sbs"
    /// The host folder of sbs's own metrics (`TextfileMetrics`), read by node-exporter's textfile collector.
    public var metricsDirectory: SafeToken?
    /// The CA bundle the site's certificate chains to when it is not a public CA's (the answers'
    /// `tls.acme_ca_bundle`): blackbox-exporter's probes of the site trust it.
    public var siteCABundle: SafeToken?
    /// The office's proxy for the services that reach the internet (app-auth, app-api, Ollama's model downloads,
    /// Alertmanager's webhook); nil: none.
    public var proxy: ContainerProxy?
    /// One engine with docker compose (docker-compose.yml, .env), or a swarm (docker-stack.yml, Docker secrets).
    public var target: DeployTarget = .compose
    /// The replicas of app-api and app-web on a swarm.
    public var swarm = SwarmSettings()

    /// - Throws: `UserError` when a host path is not absolute, an alias repeats the domain or another alias, the two
    ///   ports are equal, an Ollama model name from the profile is not a plain token, or the HSTS policy is not one
    ///   sbs writes (`HSTSPolicy.problems`).
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
        for replicas in [swarm.apiReplicas, swarm.webReplicas] where !SwarmSettings.replicaRange.contains(replicas) {
            throw UserError(
                "\(replicas) replicas is not a number sbs runs.",
                remedy:
                    "Give swarm.replicas from \(SwarmSettings.replicaRange.lowerBound) to \(SwarmSettings.replicaRange.upperBound)."
            )
        }
        if let problem = hsts.problems.first {
            throw UserError(problem.message, remedy: "Change \(problem.answer) in the answers.")
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

/// The proxy in the environment of the stack's outbound services, and what they reach without it (the answers'
/// `proxy.no_proxy`, this server and the stack's service names).
public struct ContainerProxy: Codable, Hashable, Sendable {
    public var url: ProxyURL
    public var noProxy: [NoProxyEntry]

    public init(url: ProxyURL, noProxy: [NoProxyEntry]) {
        self.url = url
        self.noProxy = noProxy
    }
}
