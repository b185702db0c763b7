import Foundation
import SBSCore

/// A secret as the answers file gives it: the value itself, or where to read it when it is needed.
public enum SecretSource: Sendable, Equatable {
    case literal(String)
    /// `env:NAME`
    case environment(String)
    /// `file:/path`
    case file(String)

    /// Reads `env:NAME`, `file:/path` or a literal.
    public init(_ text: String) {
        if text.hasPrefix("env:") { self = .environment(String(text.dropFirst(4))) }
        else if text.hasPrefix("file:") { self = .file(String(text.dropFirst(5))) }
        else { self = .literal(text) }
    }

    /// The reference as written in a file; nil for a literal, which is never written back.
    public var reference: String? {
        switch self {
        case .literal: return nil
        case .environment(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        }
    }

    /// The secret's value.
    /// - Throws: `UserError` naming the variable or file that is missing or empty.
    public func resolve(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(UserError) -> String {
        switch self {
        case .literal(let value):
            return value
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw UserError("The environment variable \(name) is not set (named by env:\(name)).",
                                remedy: "Export \(name) before running sbs, or put the value in the answers file.")
            }
            return value
        case .file(let path):
            guard let text = try AtomicFile.readText(path) else {
                throw UserError("The file \(path) does not exist (named by file:\(path)).",
                                remedy: "Create it with the secret on its first line, or change the answer.")
            }
            let value = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            if value.isEmpty { throw UserError("The file \(path) is empty (named by file:\(path)).") }
            return value
        }
    }
}

public enum InstallMode: String, Sendable, CaseIterable { case production, development }
public enum ProfileName: String, Sendable, CaseIterable { case auto, minimum, recommended, optimal }
public enum Toggle: String, Sendable, CaseIterable { case auto, `true`, `false` }
public enum TLSMode: String, Sendable, CaseIterable { case acme, selfSigned = "self-signed", files }
public enum DNSCheckPolicy: String, Sendable, CaseIterable { case strict, warn, skip }

/// Where certificates come from in `acme` mode.
public enum ACMEDirectory: Sendable, Equatable {
    case letsencrypt, letsencryptStaging
    case url(String)

    public init?(_ text: String) {
        switch text {
        case "letsencrypt": self = .letsencrypt
        case "letsencrypt-staging": self = .letsencryptStaging
        default:
            guard text.hasPrefix("https://") || text.hasPrefix("http://"),
                  text.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != 34 && $0 != 39 }) else { return nil }
            self = .url(text)
        }
    }

    public var text: String {
        switch self {
        case .letsencrypt: return "letsencrypt"
        case .letsencryptStaging: return "letsencrypt-staging"
        case .url(let url): return url
        }
    }
}

/// The services of the production stack, each with the image it runs.
public enum Service: String, Sendable, CaseIterable {
    case appDB = "app-db", appAuth = "app-auth", appAPI = "app-api", appWeb = "app-web", appKong = "app-kong"
    case nginx, ollama, monitoring, prometheus

    public var defaultImage: String {
        switch self {
        case .appDB: return "supabase/postgres:15.1.0.117"
        case .appAuth: return "supabase/gotrue:v2.132.3"
        case .appAPI: return "orchestrator-ai/api:latest"
        case .appWeb: return "orchestrator-ai/web:latest"
        case .appKong: return "kong:2.8-alpine"
        case .nginx: return "nginx:alpine"
        case .ollama: return "ollama/ollama:0.3.14"
        case .monitoring: return "grafana/grafana:10.4.2"
        case .prometheus: return "prom/prometheus:v2.51.2"
        }
    }
}

/// The secrets an answers file may give. Generated ones (database password, JWT secret …) are not here.
public enum SecretName: String, Sendable, CaseIterable {
    case anthropicAPIKey = "anthropic_api_key"
    case openaiAPIKey = "openai_api_key"
    case grafanaPassword = "grafana_password"

    /// The variable it is kept under in `secrets.env` and `.env`.
    public var environmentName: String {
        switch self {
        case .anthropicAPIKey: return "ANTHROPIC_API_KEY"
        case .openaiAPIKey: return "OPENAI_API_KEY"
        case .grafanaPassword: return "GRAFANA_ADMIN_PASSWORD"
        }
    }
}

/// Everything an install is told. Built by `AnswersFile.parse` (which validates) and by the wizard.
public struct Answers: Sendable, Equatable {
    public var mode: InstallMode = .production
    public var domain: DomainName?
    public var aliases: [DomainName] = []
    public var adminEmail: EmailAddress?
    public var profile: ProfileName = .auto
    public var gpu: Toggle = .auto
    public var monitoring: Toggle = .auto
    public var backups: Toggle = .auto

    public var tlsMode: TLSMode = .acme
    public var acmeDirectory: ACMEDirectory = .letsencrypt
    public var acmeCABundle: String?
    public var eabKeyID: String?
    public var eabHMACKey: SecretSource?
    public var certFile: String?
    public var keyFile: String?

    public var secrets: [SecretName: SecretSource] = [:]
    public var images: [Service: SafeToken] = [:]
    public var httpPort: SBSCore.Port = .http
    public var httpsPort: SBSCore.Port = .https
    public var deployDir: String = "/opt/sbs"
    public var backupDestination: String = "/var/backups/sbs"
    public var backupKeep: Int = 7

    public var smtpHost: DomainName?
    public var smtpPort: SBSCore.Port?
    public var smtpUser: SafeToken?
    public var smtpPassword: SecretSource?
    public var smtpSender: EmailAddress?

    public var publicIP: String?
    public var dnsCheck: DNSCheckPolicy = .strict

    /// The keys the file gave (`domain`, `tls.mode` …): the wizard asks only for the others.
    public var given: Set<String> = []

    public init() {}

    /// The image a service runs: the answer, else the default.
    public func image(_ service: Service) -> String {
        images[service]?.value ?? service.defaultImage
    }

    /// Names on the certificate: the domain, then the aliases.
    public var certificateNames: [DomainName] {
        (domain.map { [$0] } ?? []) + aliases.filter { $0 != domain }
    }

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
            "tls.acme_directory": acmeDirectory.text,
            "tls.acme_ca_bundle": acmeCABundle ?? "",
            "tls.eab.kid": eabKeyID ?? "",
            "tls.cert_file": certFile ?? "",
            "tls.key_file": keyFile ?? "",
            "ports.http": httpPort.description,
            "ports.https": httpsPort.description,
            "paths.deploy_dir": deployDir,
            "backups.destination": backupDestination,
            "backups.keep": String(backupKeep),
            "smtp.host": smtpHost?.value ?? "",
            "smtp.port": smtpPort?.description ?? "",
            "smtp.user": smtpUser?.value ?? "",
            "smtp.sender": smtpSender?.value ?? "",
            "network.public_ip": publicIP ?? "",
            "checks.dns": dnsCheck.rawValue,
        ]
        for service in Service.allCases { facts["images.\(service.rawValue)"] = image(service) }
        for name in SecretName.allCases { facts["secrets.\(name.rawValue)"] = secrets[name] == nil ? "absent" : "given" }
        return facts
    }

    /// Answers still missing for an install: required ones that neither the file nor the prompts gave.
    /// `storedSecrets` are the secrets already kept in `secrets.env` (a re-run need not ask again).
    public func missing(storedSecrets: Set<SecretName> = []) -> [String] {
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
