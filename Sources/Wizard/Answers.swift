import FoundationEssentials
import Host
import SBSCore

#if canImport(Glibc)
    import Glibc
#endif

/// A secret as the answers file gives it: the value itself, where to read it, or `stored` (the value an earlier
/// run of sbs keeps in `/etc/sbs/secrets.env`).
public enum SecretSource: Sendable, Hashable {
    case literal(String)
    /// `env:NAME`
    case environment(String)
    /// `file:/path`
    case file(String)
    /// `stored`
    case stored

    /// Reads `env:NAME`, `file:/path`, `stored` or a literal.
    public init(_ text: String) {
        if text.hasPrefix("env:") {
            self = .environment(String(text.dropFirst(4)))
        } else if text.hasPrefix("file:") {
            self = .file(String(text.dropFirst(5)))
        } else if text == "stored" {
            self = .stored
        } else {
            self = .literal(text)
        }
    }

    /// The reference as written in a file; nil for a literal, which sbs writes only when asked to.
    public var reference: String? {
        switch self {
        case .literal: return nil
        case .environment(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        case .stored: return "stored"
        }
    }

    /// The largest `file:` secret read (a key file, not a disk image).
    public static let fileSizeLimit = 64 * 1024

    /// The secret's value, exactly as given (one trailing line break of a `file:` is not part of it).
    /// - Parameters:
    ///   - environment: the raw bytes of an environment variable (invalid UTF-8 is refused, never replaced).
    ///   - stored: the value kept in `secrets.env` for this secret.
    /// - Throws: `UserError` naming the variable or file that is missing, not a regular file, too large, or a
    ///   value that breaks `SecretText.validate`.
    public func resolve(
        environment: (String) -> [UInt8]? = SecretSource.processEnvironment,
        stored: () -> String?
    ) throws(UserError) -> String {
        switch self {
        case .literal(let value):
            try SecretText.validate(value)
            return value
        case .environment(let name):
            guard let bytes = environment(name), !bytes.isEmpty else {
                throw UserError(
                    "the environment variable \(name) is not set (named by env:\(name))",
                    remedy: "Export \(name) before running sbs, or change the answer.")
            }
            do { return try SecretText.decode(bytes) } catch {
                throw UserError("env:\(name): \(error.message)", remedy: error.remedy)
            }
        case .file(let path):
            let bytes = try SecretSource.readSecretFile(path)
            var value = bytes[...]
            if value.last == 10 { value = value.dropLast() }
            if value.last == 13 { value = value.dropLast() }
            do { return try SecretText.decode(Array(value)) } catch {
                throw UserError("file:\(path): \(error.message)", remedy: error.remedy)
            }
        case .stored:
            guard let value = stored() else {
                throw UserError(
                    "'stored' names a value kept from an earlier install, but /etc/sbs/secrets.env has none",
                    remedy: "Give the secret itself (or env:NAME, file:/path) instead of 'stored'.")
            }
            return value
        }
    }

    /// Reads a regular file of at most `fileSizeLimit` bytes.
    static func readSecretFile(_ path: String) throws(UserError) -> [UInt8] {
        guard let status = AtomicFile.status(of: path) else {
            throw UserError(
                "the file \(path) does not exist or cannot be read (named by file:\(path))",
                remedy: "Create it with the secret as its only line, or change the answer.")
        }
        guard status.kind == .file else {
            throw UserError(
                "\(path) is not a regular file (named by file:\(path))", remedy: "Name a file that holds the secret.")
        }
        guard status.size <= SecretSource.fileSizeLimit else {
            throw UserError(
                "\(path) is larger than \(SecretSource.fileSizeLimit / 1024) KiB, too large for a secret (named by file:\(path))",
                remedy: "Name the file that holds just the secret.")
        }
        guard let bytes = try AtomicFile.read(path, limit: .secretFile) else {
            throw UserError("the file \(path) does not exist (named by file:\(path))")
        }
        return bytes
    }

    /// An environment variable's raw bytes.
    public static let processEnvironment: @Sendable (String) -> [UInt8]? = { name in
        guard let pointer = getenv(name) else { return nil }
        return Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer))).map { UInt8(bitPattern: $0) }
    }
}

/// Every secret an answers file can give, by its key in the file, with the variable `secrets.env` keeps it under.
public enum AnswerSecret: String, Sendable, CaseIterable, Comparable {
    case anthropicAPIKey = "secrets.anthropic_api_key"
    case openaiAPIKey = "secrets.openai_api_key"
    case grafanaPassword = "secrets.grafana_password"
    case smtpPassword = "smtp.password"
    case eabHMACKey = "tls.eab.hmac_key"
    case registryPassword = "registry.password"
    case backupPassword = "backups.password"
    case backupS3SecretKey = "backups.s3.secret_access_key"
    case backupRESTPassword = "backups.rest.password"
    case alertsWebhook = "alerts.webhook"

    public var variable: String {
        switch self {
        case .anthropicAPIKey: return "ANTHROPIC_API_KEY"
        case .openaiAPIKey: return "OPENAI_API_KEY"
        case .grafanaPassword: return "GRAFANA_ADMIN_PASSWORD"
        case .smtpPassword: return "SMTP_PASSWORD"
        case .eabHMACKey: return "ACME_EAB_HMAC_KEY"
        case .registryPassword: return "REGISTRY_PASSWORD"
        case .backupPassword: return "BACKUP_PASSWORD"
        case .backupS3SecretKey: return "BACKUP_S3_SECRET_ACCESS_KEY"
        case .backupRESTPassword: return "BACKUP_REST_PASSWORD"
        case .alertsWebhook: return "ALERTS_WEBHOOK_URL"
        }
    }

    public static func < (a: AnswerSecret, b: AnswerSecret) -> Bool { a.rawValue < b.rawValue }

    /// The secrets of the answers file's `secrets:` section (the others stand beside what they belong to).
    public static let secretsSection: [AnswerSecret] = allCases.filter { $0.rawValue.hasPrefix("secrets.") }

    /// Its key within its section (`anthropic_api_key` for `secrets.anthropic_api_key`).
    public var key: String { String(rawValue.split(separator: ".").last ?? "") }
}

public enum InstallMode: String, Sendable, CaseIterable { case production, development }
public enum TLSMode: String, Sendable, CaseIterable { case acme, selfSigned = "self-signed", files }

/// Each service of the stack runs an image; the answers (`images:`) may name another.
extension StackService {
    /// Each pinned to a release tag: a floating tag (`latest`, `alpine`) would make two installs of the same sbs
    /// version run different software. Answers may pin further by digest (`name@sha256:…`).
    public var defaultImage: String {
        switch self {
        case .appDB: return "supabase/postgres:15.1.0.117"
        case .appAuth: return "supabase/gotrue:v2.132.3"
        case .appAPI: return "orchestrator-ai/api:1.0.0"
        case .appWeb: return "orchestrator-ai/web:1.0.0"
        case .appKong: return "kong:2.8.1"
        case .nginx: return "nginx:1.27.3-alpine"
        case .ollama: return "ollama/ollama:0.3.14"
        case .monitoring: return "grafana/grafana:10.4.2"
        case .prometheus: return "prom/prometheus:v2.51.2"
        case .alertmanager: return "prom/alertmanager:v0.27.0"
        case .nodeExporter: return "prom/node-exporter:v1.8.2"
        case .postgresExporter: return "quay.io/prometheuscommunity/postgres-exporter:v0.15.0"
        case .blackboxExporter: return "prom/blackbox-exporter:v0.25.0"
        case .appPooler: return "edoburu/pgbouncer:1.23.1"
        }
    }
}

/// Everything an install is told. Built by `AnswersFile.parse` (which validates) and by the wizard.
public struct Answers: Sendable, Equatable {
    public var mode: InstallMode = .production
    public var domain: DomainName?
    public var aliases: [DomainName] = []
    public var adminEmail: EmailAddress?
    public var profile: ProfileRequest = .auto
    public var gpu: FeatureSwitch = .auto
    public var monitoring: FeatureSwitch = .auto
    public var backups: FeatureSwitch = .auto

    public var tlsMode: TLSMode = .acme
    public var acmeDirectory: ACMEServer = .letsEncrypt
    public var acmeCABundle: String?
    public var eabKeyID: String?
    public var eabHMACKey: SecretSource?
    public var certFile: String?
    public var keyFile: String?
    /// The Strict-Transport-Security header of a production install (`tls.hsts_max_age`,
    /// `tls.hsts_include_subdomains`, `tls.hsts_preload`); development installs send none.
    public var hsts: HSTSPolicy = .standard

    /// The `secrets:` section (`AnswerSecret.secretsSection`); the other secrets are fields of their own.
    public var secrets: [AnswerSecret: SecretSource] = [:]
    public var images: [StackService: ImageReference] = [:]
    /// `images.archive`: a `docker save` tarball holding the stack's images, loaded with `docker load` instead of
    /// pulling anything (a site without internet or registry).
    public var imagesArchive: String?
    /// `registry`: a private registry the images are pulled from, with its credentials (all three or none).
    public var registryServer: RegistryHost?
    public var registryUser: SafeToken?
    public var registryPassword: SecretSource?
    public var httpPort: SBSCore.Port = .http
    public var httpsPort: SBSCore.Port = .https
    public var deployDir: String = "/opt/sbs"
    public var backupDestination: String = "/var/backups/sbs"
    /// Daily dumps (backup.sh) and daily snapshots (restic) kept.
    public var backupKeep: Int = 7
    public var backupKeepWeekly: Int = 4
    public var backupKeepMonthly: Int = 6
    /// The restic repository of `sbs backup`.
    public var backupRepository: BackupRepository = .onThisServer
    /// How restic's ssh reaches an sftp repository (`backups.sftp`); nil: root's own ssh configuration.
    public var backupSFTP: SFTPAccess?
    /// The repository's password; generated into secrets.env (BACKUP_PASSWORD) when not given.
    public var backupPassword: SecretSource?
    /// An S3 repository's access key (`backups.s3`): its id, and the secret key (BACKUP_S3_SECRET_ACCESS_KEY).
    public var backupS3AccessKeyID: SafeToken?
    public var backupS3SecretKey: SecretSource?
    /// A REST repository's login (`backups.rest`), absent for a server without one: the user, and the password
    /// (BACKUP_REST_PASSWORD).
    public var backupRESTUser: SafeToken?
    public var backupRESTPassword: SecretSource?

    /// Who the monitoring's alerts reach (`alerts:`): mail to these addresses through `smtp:`, and/or a chat's
    /// incoming webhook (its URL a secret, ALERTS_WEBHOOK_URL: the URL is the credential).
    public var alertEmails: [EmailAddress] = []
    public var alertWebhook: SecretSource?
    /// How long a problem lasts before its alert goes out, and how long the next notice about it waits
    /// (`alerts.down_for`, `alerts.group_interval`).
    public var alertTimings: AlertTimings = .standard

    public var smtpHost: DomainName?
    public var smtpPort: SBSCore.Port?
    public var smtpUser: SafeToken?
    public var smtpPassword: SecretSource?
    public var smtpSender: EmailAddress?

    public var publicIP: String?
    public var dnsCheck: DNSPolicy = .strict
    /// `firewall: on|off`: whether sbs keeps the host firewall (step configure-firewall).
    public var firewall: FirewallSwitch = .on
    /// `target: compose|swarm`: one engine with docker compose, or a Docker Swarm (`swarm:` holds its settings).
    public var target: DeployTarget = .compose
    public var swarm = SwarmSettings()
    /// `proxy.url`: the office's proxy to the internet, for the CA, the package and image downloads (dockerd's
    /// pulls) and the stack's outbound services; `proxy.no_proxy`: what is reached without it (loopback and the
    /// stack's own names are added).
    public var proxy: ProxyURL?
    public var noProxy: [NoProxyEntry] = []

    /// Where these answers came from; not part of what they say (equal answers from two files are equal).
    public var origin = AnswersOrigin()

    /// The keys the file gave (`domain`, `tls.mode` …): the wizard asks only for the others.
    public var given: Set<String> {
        get { origin.given }
        set { origin.given = newValue }
    }

    public init() {}

    /// Every secret the answers give, wherever it stands in the file.
    public var secretSources: [AnswerSecret: SecretSource] {
        get {
            var result: [AnswerSecret: SecretSource] = [:]
            for name in AnswerSecret.secretsSection { result[name] = secrets[name] }
            result[.smtpPassword] = smtpPassword
            result[.eabHMACKey] = eabHMACKey
            result[.registryPassword] = registryPassword
            result[.backupPassword] = backupPassword
            result[.backupS3SecretKey] = backupS3SecretKey
            result[.backupRESTPassword] = backupRESTPassword
            result[.alertsWebhook] = alertWebhook
            return result
        }
        set {
            for name in AnswerSecret.secretsSection { secrets[name] = newValue[name] }
            smtpPassword = newValue[.smtpPassword]
            eabHMACKey = newValue[.eabHMACKey]
            registryPassword = newValue[.registryPassword]
            backupPassword = newValue[.backupPassword]
            backupS3SecretKey = newValue[.backupS3SecretKey]
            backupRESTPassword = newValue[.backupRESTPassword]
            alertWebhook = newValue[.alertsWebhook]
        }
    }

    /// The same answers with every literal secret replaced by `stored`: what sbs keeps in `answers.yaml` once
    /// the values are in `secrets.env`.
    public var storingLiterals: Answers {
        var copy = self
        copy.secretSources = secretSources.mapValues { source in
            if case .literal = source { return .stored }
            return source
        }
        return copy
    }

    /// The image a service runs: the answer, else the default.
    public func image(_ service: StackService) -> String {
        images[service]?.value ?? service.defaultImage
    }

    /// Names on the certificate: the domain, then the aliases (validation keeps them unique).
    public var certificateNames: [DomainName] {
        (domain.map { [$0] } ?? []) + aliases
    }

    /// The most names one certificate may carry (Let's Encrypt's limit; `sbs cert issue` has the same).
    public static let maximumNames = CertificateNames.maximum

    /// The answers as facts for step conditions and fingerprints (no secrets: only whether each is given).
    public var facts: [String: String] {
        var facts: [String: String] = [
            "mode": mode.rawValue,
            "domain": domain?.value ?? "",
            "aliases": aliases.map(\.value).joined(separator: ","),
            "admin_email": adminEmail?.value ?? "",
            "profile": profile.rawValue,
            "features.gpu": gpu.rawValue,
            "features.monitoring": monitoring.rawValue,
            "features.backups": backups.rawValue,
            "tls.mode": tlsMode.rawValue,
            "tls.acme_directory": acmeDirectory.value,
            "tls.acme_ca_bundle": acmeCABundle ?? "",
            "tls.eab.kid": eabKeyID ?? "",
            "tls.eab.hmac_key": eabHMACKey == nil ? "absent" : "given",
            "smtp.password": smtpPassword == nil ? "absent" : "given",
            "registry.server": registryServer?.value ?? "",
            "registry.user": registryUser?.value ?? "",
            "registry.password": registryPassword == nil ? "absent" : "given",
            "tls.cert_file": certFile ?? "",
            "tls.key_file": keyFile ?? "",
            "tls.hsts_max_age": String(hsts.maxAge),
            "tls.hsts_include_subdomains": String(hsts.includeSubdomains),
            "tls.hsts_preload": String(hsts.preload),
            "ports.http": httpPort.description,
            "ports.https": httpsPort.description,
            "paths.deploy_dir": deployDir,
            "backups.destination": backupDestination,
            "backups.keep": String(backupKeep),
            "backups.keep.weekly": String(backupKeepWeekly),
            "backups.keep.monthly": String(backupKeepMonthly),
            "backups.repository": backupRepository.value,
            "backups.sftp": backupSFTP.map { "\($0.port) \($0.identityFile) \($0.knownHosts)" } ?? "absent",
            "backups.password": backupPassword == nil ? "absent" : "given",
            "backups.s3.access_key_id": backupS3AccessKeyID?.value ?? "",
            "backups.s3.secret_access_key": backupS3SecretKey == nil ? "absent" : "given",
            "backups.rest.user": backupRESTUser?.value ?? "",
            "backups.rest.password": backupRESTPassword == nil ? "absent" : "given",
            "alerts.email": alertEmails.map(\.value).joined(separator: ","),
            "alerts.webhook": alertWebhook == nil ? "absent" : "given",
            "alerts.down_for": AlertTimings.text(alertTimings.downFor),
            "alerts.group_interval": AlertTimings.text(alertTimings.groupInterval),
            "smtp.host": smtpHost?.value ?? "",
            "smtp.port": smtpPort?.description ?? "",
            "smtp.user": smtpUser?.value ?? "",
            "smtp.sender": smtpSender?.value ?? "",
            "network.public_ip": publicIP ?? "",
            "checks.dns": dnsCheck.rawValue,
            "firewall": firewall.rawValue,
            "target": target.rawValue,
            "swarm.replicas.api": String(swarm.apiReplicas),
            "swarm.replicas.web": String(swarm.webReplicas),
            "swarm.advertise_addr": swarm.advertiseAddress ?? "",
            "proxy.url": proxy?.value ?? "",
            "proxy.no_proxy": noProxy.map(\.value).joined(separator: ","),
        ]
        for service in StackService.allCases { facts["images.\(service.rawValue)"] = image(service) }
        facts["images.archive"] = imagesArchive ?? ""
        for name in AnswerSecret.secretsSection { facts[name.rawValue] = secrets[name] == nil ? "absent" : "given" }
        return facts
    }

    /// Answers still missing for an install: required ones that neither the file nor the prompts gave.
    /// `storedSecrets` are the secrets already kept in `secrets.env` (a re-run need not ask again).
    public func missing(storedSecrets: Set<AnswerSecret> = []) -> [String] {
        var missing: [String] = []
        if domain == nil { missing.append("domain") }
        if adminEmail == nil { missing.append("admin_email") }
        if mode == .production, secrets[.anthropicAPIKey] == nil, !storedSecrets.contains(.anthropicAPIKey) {
            missing.append("secrets.anthropic_api_key")
        }
        if tlsMode == .files {
            if certFile == nil { missing.append("tls.cert_file") }
            if keyFile == nil { missing.append("tls.key_file") }
        }
        return missing
    }
}

/// Which keys an answers file gave, and where each stands in it. Two answers that say the same are equal whatever
/// their origin: this compares equal always.
public struct AnswersOrigin: Sendable, Equatable {
    public var given: Set<String> = []
    /// `file:line:column` of each key (`secrets.anthropic_api_key`), for messages about its value.
    public var locations: [String: String] = [:]

    public init() {}

    public static func == (a: AnswersOrigin, b: AnswersOrigin) -> Bool { true }

    /// `file:line:column: ` for `key`, or empty.
    public func at(_ key: String) -> String { locations[key].map { $0 + ": " } ?? "" }
}

extension Answers {
    /// restic's extended options for the answers' repository: `sftp.command` when `backups.sftp` is given.
    public var resticOptions: [String] { backupSFTP?.resticOption(for: backupRepository).map { [$0] } ?? [] }
}
