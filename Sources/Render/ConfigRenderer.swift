import Crypto
import Host
import SBSCore

/// One file of the deploy folder, rendered.
public struct RenderedFile: Sendable, Equatable {
    /// Path inside the deploy folder (`nginx/nginx.conf`).
    public var relativePath: String
    public var bytes: [UInt8]
    /// Permission bits (`0o600` for `.env`).
    public var mode: UInt32

    public init(relativePath: String, bytes: [UInt8], mode: UInt32) {
        self.relativePath = relativePath
        self.bytes = bytes
        self.mode = mode
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// The templates under `assets/deploy/`, keyed by their path relative to that folder (`nginx/nginx.conf.mustache`).
public struct TemplateSet: Sendable, Equatable {
    public static let folder = "assets/deploy/"
    public let templates: [String: String]

    /// - Parameter files: files keyed by their path relative to the repository root (as `BundledAssets.files` holds
    ///   them, decoded as UTF-8); those outside `assets/deploy/` or not ending in `.mustache` are ignored.
    public init(files: [String: String]) {
        var templates: [String: String] = [:]
        for (path, text) in files where path.hasPrefix(Self.folder) && path.hasSuffix(".mustache") {
            templates[String(path.dropFirst(Self.folder.count))] = text
        }
        self.templates = templates
    }

    /// Reads `ROOT/assets/deploy/**/*.mustache` (the repository, or the folder given with `--assets`).
    /// - Throws: `UserError` when a template cannot be read.
    public static func load(assetsRoot: String) throws(UserError) -> TemplateSet {
        var files: [String: String] = [:]
        for relative in ConfigRenderer.templatePaths {
            let path = assetsRoot + "/" + folder + relative
            guard let text = try AtomicFile.readText(path) else {
                throw UserError("The template \(path) is missing.", remedy: "Check the --assets folder, or drop --assets to use the templates built into sbs.")
            }
            files[folder + relative] = text
        }
        return TemplateSet(files: files)
    }
}

/// Renders the deploy folder: a pure function of the input, the secrets and the template texts. The same arguments
/// give byte-identical files (no time, no randomness, sorted lists).
public enum ConfigRenderer {
    /// Every template sbs renders or includes, relative to `assets/deploy/`.
    public static let templatePaths = [
        ".env.mustache",
        "backup/backup.sh.mustache",
        "db/roles.sql.mustache",
        "docker-compose.yml.mustache",
        "kong/kong.yml.mustache",
        "monitoring/grafana/grafana.ini.mustache",
        "monitoring/grafana/provisioning/datasources/prometheus.yml.mustache",
        "monitoring/prometheus/prometheus.yml.mustache",
        "nginx/_common-http.conf.mustache",
        "nginx/bootstrap.conf.mustache",
        "nginx/nginx.conf.mustache",
    ]

    /// The services that mount rendered files, with the folder those files are in (`configDigestNginx` …).
    static let mountedConfigs = [("Nginx", "nginx/"), ("Kong", "kong/"), ("Prometheus", "monitoring/prometheus/"),
                                 ("Monitoring", "monitoring/grafana/")]

    /// Secrets that reach `.env`, in this order; the first five are required.
    public static let envSecrets: [SecretName] = SecretName.generated + [.anthropicAPIKey, .smtpPassword]

    /// - Returns: the files, sorted by path.
    /// - Throws: `UserError` when a template is missing or does not parse, a generated secret is missing
    ///   (generate-secrets must run first), `SMTP_PASSWORD` is missing while SMTP is configured, or
    ///   `POSTGRES_PASSWORD` holds characters that would break the database URLs.
    public static func render(_ input: RenderInput, secrets: Secrets, templates: TemplateSet) throws(UserError) -> [RenderedFile] {
        try input.validate()
        for name in SecretName.generated where !secrets.contains(name) {
            throw UserError("The secret \(name) is missing.", remedy: "Run the generate-secrets step first (`sbs resume`).")
        }
        if input.smtp != nil && !secrets.contains(.smtpPassword) {
            throw UserError("SMTP is configured but the secret SMTP_PASSWORD is missing.", remedy: "Give smtp.password in the answers.")
        }
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        if let password = secrets[.postgresPassword], !password.utf8.allSatisfy(unreserved.contains) {
            throw UserError("POSTGRES_PASSWORD contains characters that are not allowed in a database URL.",
                            remedy: "Use letters, digits and - . _ ~ only in POSTGRES_PASSWORD (secrets.env).")
        }

        var library = TemplateLibrary()
        for path in templatePaths {
            guard let text = templates.templates[path] else {
                throw UserError("The template assets/deploy/\(path) is missing.", remedy: "Rebuild sbs, or check the --assets folder.")
            }
            do {
                try library.register(text, named: String(path.dropLast(".mustache".count)))
            } catch {
                throw UserError("The template assets/deploy/\(path) does not parse: \(error)")
            }
        }
        let values = templateValues(input, secrets: secrets)

        var outputs: [(String, UInt32)] = [
            (".env", 0o600),
            ("db/roles.sql", 0o644),
            ("docker-compose.yml", 0o644),
            ("kong/kong.yml", 0o644),
            ("nginx/bootstrap.conf", 0o644),
            ("nginx/nginx.conf", 0o644),
        ]
        if input.profile.monitoringEnabled {
            outputs += [
                ("monitoring/grafana/grafana.ini", 0o644),
                ("monitoring/grafana/provisioning/datasources/prometheus.yml", 0o644),
                ("monitoring/prometheus/prometheus.yml", 0o644),
            ]
        }
        if input.backups { outputs.append(("backup/backup.sh", 0o755)) }

        /// The output `path` rendered by its template; a partial that names no template is reported as a parse error.
        func rendered(_ path: String, with values: [String: Any]) throws(UserError) -> String {
            let text: String?
            do {
                text = try library.render(values, withTemplate: path)
            } catch {
                throw UserError("The template assets/deploy/\(error.template).mustache does not parse: \(error)")
            }
            guard let text else { throw UserError("The template for \(path) is missing.") }
            return text
        }

        // docker-compose.yml last: each service that mounts rendered files carries their digest as a label, so a
        // changed file changes the service's compose hash and `up` recreates it (compose does not look into mounts).
        var files: [RenderedFile] = []
        var composeValues = values
        for (path, mode) in outputs.sorted(by: { $0.0 < $1.0 }) where path != "docker-compose.yml" {
            files.append(RenderedFile(relativePath: path, bytes: Array(try rendered(path, with: values).utf8), mode: mode))
        }
        for (service, prefix) in mountedConfigs {
            var hasher = SHA256()
            for file in files where file.relativePath.hasPrefix(prefix) {
                hasher.update(data: Array(file.relativePath.utf8) + [0])
                hasher.update(data: file.bytes + [0])
            }
            composeValues["configDigest" + service] = String(hasher.finalize().hex.prefix(16))
        }
        let compose = try rendered("docker-compose.yml", with: composeValues)
        files.append(RenderedFile(relativePath: "docker-compose.yml", bytes: Array(compose.utf8), mode: 0o644))
        return files.sorted { $0.relativePath < $1.relativePath }
    }

    /// The names the templates use. Kept in one place so that a template and its values are read side by side.
    static func templateValues(_ input: RenderInput, secrets: Secrets) -> [String: Any] {
        let profile = input.profile
        let https = input.httpsPort.value
        let portSuffix = https == 443 ? "" : ":\(https)"
        let publicURL = "https://\(input.domain.value)\(portSuffix)"
        let production = input.mode == .production
        func mem(_ service: StackService) -> String { String(profile.memoryLimitMiB(for: service)) }

        var values: [String: Any] = [
            "profileName": profile.name.rawValue,
            "projectName": input.projectName,
            "domain": input.domain.value,
            "serverNames": input.allNames.map(\.value).joined(separator: " "),
            "adminEmail": input.adminEmail.value,
            "httpPort": String(input.httpPort.value),
            "httpsPort": String(https),
            "httpsPortSuffix": portSuffix,
            "publicURL": publicURL,
            "origins": input.allNames.map { "https://\($0.value)\(portSuffix)" },
            "production": production,
            "nodeEnv": production ? "production" : "development",
            "logLevel": production ? "info" : "debug",
            "grafanaLogLevel": production ? "warn" : "info",
            "signupDisabled": input.smtp == nil ? "true" : "false",
            "composeProfiles": profile.composeProfiles.joined(separator: ","),
            "apiWorkers": String(profile.apiWorkers),
            "pgMaxConnections": String(profile.postgres.maxConnections),
            "pgSharedBuffers": String(profile.postgres.sharedBuffersMiB),
            "pgEffectiveCacheSize": String(profile.postgres.effectiveCacheSizeMiB),
            "pgWorkMem": String(profile.postgres.workMemMiB),
            "pgMaintenanceWorkMem": String(profile.postgres.maintenanceWorkMemMiB),
            "memAppDB": mem(.appDB), "memAppAuth": mem(.appAuth), "memAppAPI": mem(.appAPI),
            "memAppWeb": mem(.appWeb), "memAppKong": mem(.appKong), "memNginx": mem(.nginx),
            "memOllama": mem(.ollama), "memMonitoring": mem(.monitoring), "memPrometheus": mem(.prometheus),
            "imageAppDB": input.images.appDB.value, "imageAppAuth": input.images.appAuth.value,
            "imageAppAPI": input.images.appAPI.value, "imageAppWeb": input.images.appWeb.value,
            "imageAppKong": input.images.appKong.value, "imageNginx": input.images.nginx.value,
            "imageOllama": input.images.ollama.value, "imageMonitoring": input.images.monitoring.value,
            "imagePrometheus": input.images.prometheus.value,
            "ollamaURL": profile.runsOllama ? "http://ollama:11434" : "",
            "gpu": profile.gpu,
            "acmeWebroot": input.acmeWebroot.value,
            "monitoringLevel": profile.monitoring.level.rawValue,
            "advanced": profile.monitoring.level == .advanced,
            "retentionDays": String(profile.monitoring.retentionDays),
            "scrapeInterval": String(profile.monitoring.scrapeIntervalSeconds),
        ]
        switch input.tls {
        case .acme(let directory), .selfSigned(let directory):
            values["tlsDirectory"] = directory.value
        case .files(let certificate, let key):
            values["tlsFiles"] = ["certificate": certificate.value, "key": key.value]
        }
        if let smtp = input.smtp {
            values["smtp"] = ["host": smtp.host.value, "port": String(smtp.port.value), "user": smtp.user.value,
                              "sender": smtp.sender.value]
        }
        values["secrets"] = envSecrets.compactMap { name -> [String: String]? in
            secrets[name].map { ["name": name.value, "value": $0] }
        }
        return values
    }
}
