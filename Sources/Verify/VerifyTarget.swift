import Deploy
import SBSCore

/// What `verify` checks, decided before anything is read: the names and ports the stack serves, which CA to trust,
/// the compose project, and what the profile runs. It is the `verify` step's Input (so it holds no I/O and no
/// secret), and `sbs verify` builds the same from the kept answers.
public struct VerifyTarget: Codable, Sendable, Hashable {
    /// Which certificates `tls-certificate` accepts.
    public enum Trust: Codable, Sendable, Hashable {
        /// The system's CA store (a public CA such as Let's Encrypt).
        case system
        /// A PEM file of CAs (the answers' `tls.acme_ca_bundle`, a private ACME CA).
        case bundle(String)
        /// The installed certificate itself (`tls.mode: self-signed`): the server must present exactly it.
        case installedCertificate(String)

        /// The PEM file given to libcurl as its CA store; nil for the system's.
        public var caFile: String? {
            switch self {
            case .system: return nil
            case .bundle(let path), .installedCertificate(let path): return path
            }
        }

        public var description: String {
            switch self {
            case .system: return "the system's CA store"
            case .bundle(let path): return "the CA bundle \(path)"
            case .installedCertificate(let path): return "the installed self-signed certificate \(path)"
            }
        }
    }

    /// What the profile runs; nil in `VerifyTarget.profile` when no profile was chosen yet.
    public struct ProfileExpectation: Codable, Sendable, Hashable {
        /// The models Ollama must hold; nil when the profile runs no Ollama.
        public var ollamaModels: [String]?
        /// Prometheus, its exporters and Alertmanager run.
        public var monitoring: Bool
        /// Grafana runs too (monitoring above the basic level).
        public var grafana: Bool

        /// - Parameter grafana: whether Grafana runs; by default, whenever monitoring is on.
        public init(ollamaModels: [String]?, monitoring: Bool, grafana: Bool? = nil) {
            self.ollamaModels = ollamaModels
            self.monitoring = monitoring
            self.grafana = grafana ?? monitoring
        }
    }

    /// The primary name: the redirect, the web app and the health endpoints are fetched with it.
    public var domain: String
    /// Every name on the certificate (the domain first); each is checked with its own SNI.
    public var names: [String]
    public var httpPort: Int
    public var httpsPort: Int
    /// Where the requests go while the URL keeps the name (SNI and Host): this server, so the check works behind
    /// hairpin NAT and before DNS has spread.
    public var address: String
    /// The Strict-Transport-Security production installs send, as the answers ask; nil for development installs,
    /// which send none (a test certificate must not pin browsers to HTTPS).
    public var hsts: HSTSPolicy?
    public var trust: Trust
    public var project: ComposeProject
    public var profile: ProfileExpectation?
    /// nil when backups are off.
    public var backup: BackupExpectation?
    /// How the answers' alerts reach a person (`email`, `webhook`); empty when they name nobody.
    public var alertIntegrations: [String] = []

    public init(
        domain: String, names: [String], httpPort: Int = 80, httpsPort: Int = 443, address: String = "127.0.0.1",
        hsts: HSTSPolicy? = .standard, trust: Trust = .system, project: ComposeProject, profile: ProfileExpectation?,
        backup: BackupExpectation? = nil
    ) {
        self.domain = domain
        self.names = names.isEmpty ? [domain] : names
        self.httpPort = httpPort
        self.httpsPort = httpsPort
        self.address = address
        self.hsts = hsts
        self.trust = trust
        self.project = project
        self.profile = profile
        self.backup = backup
    }

    /// `http://NAME[:PORT]PATH`, the port left out when it is the scheme's default (so Host carries no port).
    public func httpURL(_ name: String, _ path: String = "/") -> String {
        "http://" + name + (httpPort == 80 ? "" : ":\(httpPort)") + path
    }

    /// `https://NAME[:PORT]PATH`.
    public func httpsURL(_ name: String, _ path: String = "/") -> String {
        "https://" + name + (httpsPort == 443 ? "" : ":\(httpsPort)") + path
    }

    /// libcurl's `host:port:address` entries: every name, on both ports, to `address`.
    public var resolve: [String] {
        let address = self.address.contains(":") ? "[\(self.address)]" : self.address
        return names.flatMap { name in ["\(name):\(httpPort):\(address)", "\(name):\(httpsPort):\(address)"] }
    }
}
