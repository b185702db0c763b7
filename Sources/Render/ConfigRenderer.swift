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
    /// The group the file belongs to when a service's user reads it through its group (Alertmanager's nogroup for
    /// a file that holds a credential); nil: root's.
    public var group: UInt32?

    public init(relativePath: String, bytes: [UInt8], mode: UInt32, group: UInt32? = nil) {
        self.relativePath = relativePath
        self.bytes = bytes
        self.mode = mode
        self.group = group
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// The templates under `assets/deploy/`, keyed by their path relative to that folder (`nginx/nginx.conf.mustache`),
/// and the files copied as they are (`ConfigRenderer.verbatimPaths`).
public struct TemplateSet: Sendable, Equatable {
    public static let folder = "assets/deploy/"
    public let templates: [String: String]
    /// The files of `ConfigRenderer.verbatimPaths` found, keyed by that path
    /// (`monitoring/grafana/dashboards/host.json`).
    public let verbatim: [String: String]

    /// - Parameter files: files keyed by their path relative to the repository root (as `BundledAssets.files` holds
    ///   them, decoded as UTF-8); those outside `assets/deploy/`, or neither ending in `.mustache` nor listed in
    ///   `ConfigRenderer.verbatimPaths`, are ignored.
    public init(files: [String: String]) {
        var templates: [String: String] = [:]
        var verbatim: [String: String] = [:]
        for (path, text) in files where path.hasPrefix(Self.folder) {
            let relative = String(path.dropFirst(Self.folder.count))
            if relative.hasSuffix(".mustache") {
                templates[relative] = text
            } else if ConfigRenderer.verbatimPaths.contains(relative) {
                verbatim[relative] = text
            }
        }
        self.templates = templates
        self.verbatim = verbatim
    }

    /// Every file, keyed by its path relative to the repository root: what `init(files:)` takes.
    public var files: [String: String] {
        var files: [String: String] = [:]
        for (path, text) in templates { files[Self.folder + path] = text }
        for (path, text) in verbatim { files[Self.folder + path] = text }
        return files
    }

    /// Reads `ROOT/assets/deploy/**/*.mustache` and the verbatim files (the repository, or the folder given with
    /// `--assets`).
    /// - Throws: `UserError` when a file cannot be read.
    public static func load(assetsRoot: String) throws(UserError) -> TemplateSet {
        var files: [String: String] = [:]
        for relative in ConfigRenderer.templatePaths + ConfigRenderer.verbatimPaths {
            let path = assetsRoot + "/" + folder + relative
            guard let text = try AtomicFile.readText(path, limit: .config) else {
                throw UserError(
                    "The template \(path) is missing.",
                    remedy: "Check the --assets folder, or drop --assets to use the templates built into sbs.")
            }
            files[folder + relative] = text
        }
        return TemplateSet(files: files)
    }
}

extension StackService {
    /// The service's part of the template names `mem…` and `image…` (memAppDB, imageNodeExporter).
    var templateName: String {
        switch self {
        case .appDB: return "AppDB"
        case .appAuth: return "AppAuth"
        case .appAPI: return "AppAPI"
        case .appWeb: return "AppWeb"
        case .appKong: return "AppKong"
        case .nginx: return "Nginx"
        case .ollama: return "Ollama"
        case .monitoring: return "Monitoring"
        case .prometheus: return "Prometheus"
        case .alertmanager: return "Alertmanager"
        case .nodeExporter: return "NodeExporter"
        case .postgresExporter: return "PostgresExporter"
        case .blackboxExporter: return "BlackboxExporter"
        case .appPooler: return "AppPooler"
        }
    }
}

/// Renders the deploy folder: a pure function of the input, the secrets and the template texts. The same arguments
/// give byte-identical files (no time, no randomness, sorted lists).
public enum ConfigRenderer {
    /// Every template sbs renders or includes, relative to `assets/deploy/`.
    public static let templatePaths = [
        ".env.mustache",
        "_logging.yml.mustache",
        "_privileges.yml.mustache",
        "_proxy.yml.mustache",
        "_swarm-update.yml.mustache",
        "_tmpfs.yml.mustache",
        "backup/backup.sh.mustache",
        "db/monitoring-role.sql.mustache",
        "db/roles.sql.mustache",
        "docker-compose.yml.mustache",
        "kong/kong.yml.mustache",
        "monitoring/alertmanager/alertmanager.yml.mustache",
        "monitoring/blackbox/blackbox.yml.mustache",
        "monitoring/grafana/grafana.ini.mustache",
        "monitoring/grafana/provisioning/datasources/prometheus.yml.mustache",
        "monitoring/prometheus/alerts.yml.mustache",
        "monitoring/prometheus/prometheus.yml.mustache",
        "nginx/_common-http.conf.mustache",
        "nginx/bootstrap.conf.mustache",
        "nginx/nginx.conf.mustache",
        "pooler/pgbouncer.ini.mustache",
    ]

    /// Files copied into the deploy folder as they are, relative to `assets/deploy/`, when Grafana runs: Grafana's
    /// dashboards and their provider. Not templates: a dashboard's legend is written `{{label}}`, Mustache's tag.
    public static let verbatimPaths = [
        "monitoring/grafana/dashboards/containers.json",
        "monitoring/grafana/dashboards/host.json",
        "monitoring/grafana/dashboards/jobs.json",
        "monitoring/grafana/dashboards/postgres.json",
        "monitoring/grafana/dashboards/site.json",
        "monitoring/grafana/provisioning/dashboards/sbs.yml",
    ]

    /// The services that mount rendered files (`configDigestNginx`, `filesNginx` …), the folder those files are in,
    /// and where the container reads that folder.
    static let mountedConfigs = [
        ("Nginx", "nginx/", "/etc/nginx/sbs/"), ("Kong", "kong/", "/etc/sbs/kong/"),
        ("Prometheus", "monitoring/prometheus/", "/etc/sbs/prometheus/"),
        ("Monitoring", "monitoring/grafana/", "/etc/sbs/grafana/"),
        ("Alertmanager", "monitoring/alertmanager/", "/etc/sbs/alertmanager/"),
        ("BlackboxExporter", "monitoring/blackbox/", "/etc/sbs/blackbox/"),
        ("AppPooler", "pooler/", "/etc/sbs/pgbouncer/"),
    ]

    /// app-db's files, each mounted on its own (`db/roles.sql` …): on a swarm, Docker configs too.
    static let databaseFiles = ["db/monitoring-role.sql", "db/roles.sql"]

    /// The Docker secrets a swarm stack reads as variables (made by start-stack from secrets.env): those of the
    /// services that run, and the API keys the answers give.
    public static func swarmSecrets(_ input: RenderInput, secrets: Secrets) -> [SecretName] {
        var names: [SecretName] = [
            .jwtSecret, .monitoringDBPassword, .postgresPassword, .supabaseAnonKey, .supabaseServiceRoleKey,
        ]
        if input.profile.runsGrafana { names.append(.grafanaAdminPassword) }
        if input.smtp != nil { names.append(.smtpPassword) }
        names += apiKeys.filter { secrets[$0]?.isEmpty == false }
        return names.sorted()
    }

    /// The API's optional keys: in its environment when the answers give them.
    static let apiKeys: [SecretName] = [.anthropicAPIKey, .openaiAPIKey]

    /// The group of Alertmanager's user (`nobody:nogroup`, 65534, in prom/alertmanager and in Debian).
    public static let alertmanagerGroup: UInt32 = 65534

    /// Secrets that reach `.env`, in this order; the first five are required.
    public static let envSecrets: [SecretName] =
        SecretName.generated + [.anthropicAPIKey, .openaiAPIKey, .smtpPassword]

    /// - Returns: the files, sorted by path.
    /// - Throws: `UserError` when a template is missing, does not parse or cannot be rendered with these values
    ///   (a name without a value, a value its content type refuses: see `TemplateLibrary.render`), a generated secret is missing
    ///   (generate-secrets must run first), `SMTP_PASSWORD` is missing while SMTP is configured, or
    ///   `POSTGRES_PASSWORD` holds characters that would break the database URLs.
    public static func render(_ input: RenderInput, secrets: Secrets, templates: TemplateSet) throws(UserError)
        -> [RenderedFile]
    {
        try input.validate()
        for name in SecretName.generated where !secrets.contains(name) {
            throw UserError(
                "The secret \(name) is missing.", remedy: "Run the generate-secrets step first.")
        }
        if input.alerts?.webhook == true, !secrets.contains(.alertsWebhookURL) {
            throw UserError(
                "Alerts are to be posted to a webhook, but the secret ALERTS_WEBHOOK_URL is missing.",
                remedy: "Give alerts.webhook in the answers.")
        }
        if input.smtp != nil && !secrets.contains(.smtpPassword) {
            throw UserError(
                "SMTP is configured but the secret SMTP_PASSWORD is missing.",
                remedy: "Give smtp.password in the answers.")
        }
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        if let password = secrets[.postgresPassword], !password.utf8.allSatisfy(unreserved.contains) {
            throw UserError(
                "POSTGRES_PASSWORD contains characters that are not allowed in a database URL.",
                remedy: "Use letters, digits and - . _ ~ only in POSTGRES_PASSWORD (secrets.env).")
        }

        var library = TemplateLibrary()
        for path in templatePaths {
            guard let text = templates.templates[path] else {
                throw UserError(
                    "The template assets/deploy/\(path) is missing.",
                    remedy: "Rebuild sbs, or check the --assets folder.")
            }
            do {
                try library.register(text, named: String(path.dropLast(".mustache".count)))
            } catch {
                throw UserError("The template assets/deploy/\(path) does not parse: \(error)")
            }
        }
        var verbatimFiles: [RenderedFile] = []
        for path in verbatimPaths {
            guard let text = templates.verbatim[path] else {
                throw UserError(
                    "The file assets/deploy/\(path) is missing.", remedy: "Rebuild sbs, or check the --assets folder.")
            }
            verbatimFiles.append(RenderedFile(relativePath: path, bytes: Array(text.utf8), mode: 0o644))
        }
        do { try library.check() } catch {
            throw UserError("The template assets/deploy/\(error.template).mustache does not parse: \(error)")
        }
        let values = templateValues(input, secrets: secrets)

        // On a swarm the services read their secrets as Docker secrets: no .env.
        let swarm = input.target == .swarm
        let stackFile = input.target.stackFile
        var outputs: [(String, UInt32)] = swarm ? [] : [(".env", 0o600)]
        outputs += [
            ("db/monitoring-role.sql", 0o644),
            ("db/roles.sql", 0o644),
            ("kong/kong.yml", 0o644),
            ("nginx/bootstrap.conf", 0o644),
            ("nginx/nginx.conf", 0o644),
        ]
        if includes(.appPooler, input) { outputs.append(("pooler/pgbouncer.ini", 0o644)) }
        if input.profile.monitoringEnabled {
            outputs += [
                ("monitoring/blackbox/blackbox.yml", 0o644),
                ("monitoring/prometheus/alerts.yml", 0o644),
                ("monitoring/prometheus/prometheus.yml", 0o644),
            ]
        }
        if input.profile.runsGrafana {
            outputs += [
                ("monitoring/grafana/grafana.ini", 0o644),
                ("monitoring/grafana/provisioning/datasources/prometheus.yml", 0o644),
            ]
        }
        // Alertmanager's configuration may hold the webhook's URL (a credential): 0640, readable by the group of
        // Alertmanager's user (nobody:nogroup in its image) and root only.
        let alertmanagerFiles = input.profile.monitoringEnabled ? ["monitoring/alertmanager/alertmanager.yml"] : []
        // backup.sh dumps through `docker compose exec`; a swarm's backups are `sbs backup`'s (restic), which reaches
        // app-db's task itself.
        if input.backups && !swarm { outputs.append(("backup/backup.sh", 0o755)) }

        /// The output `path` rendered by its template.
        func rendered(_ path: String, with values: [String: TemplateValue]) throws(UserError) -> String {
            let text: String?
            do {
                text = try library.render(values, withTemplate: path)
            } catch {
                throw UserError(
                    "The template assets/deploy/\(error.template).mustache cannot be rendered: \(error)",
                    remedy:
                        "Each name a template uses is set in templateValues (Sources/Render/ConfigRenderer.swift); check the --assets folder, or rebuild sbs."
                )
            }
            guard let text else { throw UserError("The template for \(path) is missing.") }
            return text
        }

        // docker-compose.yml last: each service that mounts rendered files carries their digest as a label, so a
        // changed file changes the service's compose hash and `up` recreates it (compose does not look into mounts).
        // On a swarm the stack file names each file's Docker config by a digest of it.
        var files: [RenderedFile] = []
        var composeValues = values
        for (path, mode) in outputs.sorted(by: { $0.0 < $1.0 }) {
            files.append(
                RenderedFile(relativePath: path, bytes: Array(try rendered(path, with: values).utf8), mode: mode))
        }
        // Grafana's dashboards: inside monitoring/grafana/, so they count in the digest of the service mounting them.
        if input.profile.runsGrafana { files += verbatimFiles }
        for path in alertmanagerFiles {
            files.append(
                RenderedFile(
                    relativePath: path, bytes: Array(try rendered(path, with: values).utf8), mode: 0o640,
                    group: alertmanagerGroup))
        }
        // The relay's password as a file of its own (smtp_auth_password_file): written as it is, whatever it holds.
        if input.profile.monitoringEnabled, input.alerts?.emails.isEmpty == false, let password = secrets[.smtpPassword]
        {
            files.append(
                RenderedFile(
                    relativePath: "monitoring/alertmanager/smtp_password", bytes: Array(password.utf8), mode: 0o640,
                    group: alertmanagerGroup))
        }
        for (service, prefix, _) in mountedConfigs {
            var hasher = SHA256()
            for file in files where file.relativePath.hasPrefix(prefix) {
                hasher.update(data: Array(file.relativePath.utf8) + [0])
                hasher.update(data: file.bytes + [0])
            }
            composeValues["configDigest" + service] = .text(String(hasher.finalize().hex.prefix(16)))
        }
        if swarm {
            try swarmValues(input, secrets: secrets, files: files, into: &composeValues)
        }
        let compose = try rendered("docker-compose.yml", with: composeValues)
        files.append(RenderedFile(relativePath: stackFile, bytes: Array(compose.utf8), mode: 0o644))
        return files.sorted { $0.relativePath < $1.relativePath }
    }

    /// The stack file's Docker secrets and configs: each mounted file as a config, or as a secret when it holds a
    /// credential (not readable by others: Alertmanager's), mounted where the compose file mounts its folder; and
    /// the secrets the services read as variables.
    static func swarmValues(
        _ input: RenderInput, secrets: Secrets, files: [RenderedFile], into values: inout [String: TemplateValue]
    ) throws(UserError) {
        let objects = try SwarmObjects(project: input.projectName, secrets: secrets)
        var configs: [TemplateValue] = []
        var fileSecrets: [TemplateValue] = []
        func object(_ file: RenderedFile) -> TemplateValue {
            .record([
                "key": .text(SwarmObjects.key(file.relativePath)), "path": .text(file.relativePath),
                "name": .text(objects.file(file.relativePath, bytes: file.bytes)),
            ])
        }
        for (service, folder, target) in mountedConfigs {
            var mounts: [TemplateValue] = []
            for file in files where file.relativePath.hasPrefix(folder) {
                let secret = file.mode & 0o004 == 0
                mounts.append(
                    .record([
                        "key": .text(SwarmObjects.key(file.relativePath)),
                        "target": .text(target + file.relativePath.dropFirst(folder.count)),
                        "mode": .text(secret ? "0440" : "0444"),
                        "group": .optional(file.group.map { ["gid": .number(Int($0))] }),
                    ]))
                if secret { fileSecrets.append(object(file)) } else { configs.append(object(file)) }
            }
            values["files" + service] = .list(mounts)
        }
        for file in files where databaseFiles.contains(file.relativePath) { configs.append(object(file)) }
        values["swarmConfigs"] = .list(configs)
        values["swarmFileSecrets"] = .list(fileSecrets)
        var environment: [TemplateValue] = []
        for name in swarmSecrets(input, secrets: secrets) {
            guard let value = secrets[name] else {
                throw UserError("The secret \(name) is missing.", remedy: "Run the generate-secrets step first.")
            }
            environment.append(.record(["key": .text(name.value), "name": .text(objects.secret(name, value: value))]))
        }
        values["swarmSecrets"] = .list(environment)
    }

    /// The names the templates use. Kept in one place so that a template and its values are read side by side.
    /// Every name is always set (a template that uses a name set nowhere stops rendering); what is optional is a
    /// list of zero or one record (`smtp`, `tlsDirectory`, `tlsFiles`).
    static func templateValues(_ input: RenderInput, secrets: Secrets) -> [String: TemplateValue] {
        let profile = input.profile
        let https = input.httpsPort.value
        let portSuffix = https == 443 ? "" : ":\(https)"
        let publicURL = "https://\(input.domain.value)\(portSuffix)"
        let production = input.mode == .production
        func mem(_ service: StackService) -> TemplateValue { .number(profile.memoryLimitMiB(for: service)) }

        var values: [String: TemplateValue] = [
            "profileName": .text(profile.name.rawValue),
            "projectName": .text(input.projectName),
            "domain": .text(input.domain.value),
            "serverNames": .text(input.allNames.map(\.value).joined(separator: " ")),
            "adminEmail": .text(input.adminEmail.value),
            "httpPort": .number(input.httpPort.value),
            "httpsPort": .number(https),
            "httpsPortSuffix": .text(portSuffix),
            "publicURL": .text(publicURL),
            "origins": .list(input.allNames.map { .text("https://\($0.value)\(portSuffix)") }),
            "production": .flag(production),
            "hstsMaxAge": .number(input.hsts.maxAge),
            "hstsIncludeSubdomains": .flag(input.hsts.includeSubdomains),
            "hstsPreload": .flag(input.hsts.preload),
            "nodeEnv": .text(production ? "production" : "development"),
            "logLevel": .text(production ? "info" : "debug"),
            "grafanaLogLevel": .text(production ? "warn" : "info"),
            // Text, not a flag: written as GoTrue's "true"/"false".
            "signupDisabled": .text(input.smtp == nil ? "true" : "false"),
            "composeProfiles": .text(profile.composeProfiles.joined(separator: ",")),
            "apiWorkers": .number(profile.apiWorkers),
            "pgMaxConnections": .number(profile.postgres.maxConnections),
            "pgSharedBuffers": .number(profile.postgres.sharedBuffersMiB),
            "pgEffectiveCacheSize": .number(profile.postgres.effectiveCacheSizeMiB),
            "pgWorkMem": .number(profile.postgres.workMemMiB),
            "pgMaintenanceWorkMem": .number(profile.postgres.maintenanceWorkMemMiB),
            "ollamaURL": .text(profile.runsOllama ? "http://ollama:11434" : ""),
            "gpu": .flag(profile.gpu),
            "acmeWebroot": .text(input.acmeWebroot.value),
            // Monitoring on: Kong's prometheus plugin and its Status API, which Prometheus scrapes.
            "monitoring": .flag(profile.monitoringEnabled),
            // Above the basic level: Grafana, its dashboards, and Prometheus's job for it.
            "grafana": .flag(profile.runsGrafana),
            "monitoringLevel": .text(profile.monitoring.level.rawValue),
            "advanced": .flag(profile.monitoring.level == .advanced),
            "retentionDays": .number(profile.monitoring.retentionDays),
            "scrapeInterval": .number(profile.monitoring.scrapeIntervalSeconds),
            "downFor": .text(AlertTimings.text(input.alertTimings.downFor)),
            "groupInterval": .text(AlertTimings.text(input.alertTimings.groupInterval)),
            "backups": .flag(input.backups),
            "metricsDir": .text(input.metricsDirectory?.value ?? "/var/lib/sbs/metrics"),
            // What blackbox-exporter probes: every name's home page, the API's and the auth service's health routes
            // (the routes `sbs verify` checks), by the names nginx serves, on its port inside the stack.
            "probeURLs": .list(
                input.allNames.map { .text("https://\($0.value)/") } + [
                    .text("https://\(input.domain.value)/api/health"),
                    .text("https://\(input.domain.value)/auth/v1/health"),
                ]),
            "siteNames": .list(input.allNames.map { .text($0.value) }),
            // Its folder is mounted, not the file: a bundle replaced by a rename (a new file where the old one was)
            // would stay the old one behind a mount of the file.
            "siteCABundle": .optional(
                input.siteCABundle.map { bundle in
                    let path = bundle.value
                    let slash = path.lastIndex(of: "/") ?? path.startIndex
                    let folder = String(path[..<slash])
                    return [
                        "folder": .text(folder.isEmpty ? "/" : folder),
                        "file": .text(String(path[path.index(after: slash)...])),
                    ]
                }),
            "siteSelfSigned": .flag(
                {
                    if case .selfSigned = input.tls { return true }
                    return false
                }()),
        ]
        let swarm = input.target == .swarm
        values["swarm"] = .flag(swarm)
        values["replicasAppAPI"] = .number(input.swarm.apiReplicas)
        values["replicasAppWeb"] = .number(input.swarm.webReplicas)
        values["startFirst"] = .optional([
            "updateOrder": "start-first",
            "updateWhy": "the new task is healthy before the old one stops (a stateless service)",
        ])
        values["stopFirst"] = .optional([
            "updateOrder": "stop-first",
            "updateWhy": "the old task stops first (a data folder or a host port is never shared)",
        ])
        values["poolerServerConnections"] = .number(poolerConnections(profile))
        values["apiSecrets"] = .list(
            apiKeys.filter { secrets[$0]?.isEmpty == false }.map { .record(["name": .text($0.value)]) })
        // Set here for both targets (a template's names are set always); filled for a swarm by `swarmValues`.
        for name in ["swarmConfigs", "swarmFileSecrets", "swarmSecrets"] { values[name] = .list([]) }
        for (service, _, _) in mountedConfigs { values["files" + service] = .list([]) }
        for service in StackService.allCases {
            // Compose starts a profile's services by its profiles; a swarm stack holds only those that run.
            values["include" + service.templateName] = .flag(includes(service, input))
            values["mem" + service.templateName] = mem(service)
            values["image" + service.templateName] = .text(input.images[service].value)
            values["privileges" + service.templateName] = .optional(privilegeValues(service.privileges))
            values["pids" + service.templateName] = .number(service.privileges.pidsLimit)
        }
        var tlsDirectory: [String: TemplateValue]?
        var tlsFiles: [String: TemplateValue]?
        switch input.tls {
        case .acme(let directory), .selfSigned(let directory):
            tlsDirectory = ["directory": .text(directory.value)]
        case .files(let certificate, let key):
            tlsFiles = ["certificate": .text(certificate.value), "key": .text(key.value)]
        }
        values["tlsDirectory"] = .optional(tlsDirectory)
        values["tlsFiles"] = .optional(tlsFiles)
        values["proxy"] = .optional(
            input.proxy.map {
                ["url": .text($0.url.value), "noProxy": .text($0.noProxy.map(\.value).joined(separator: ","))]
            })
        values["smtp"] = .optional(
            input.smtp.map { smtp in
                [
                    "host": .text(smtp.host.value), "port": .number(smtp.port.value), "user": .text(smtp.user.value),
                    "sender": .text(smtp.sender.value),
                ]
            })
        // Alertmanager: the relay (STARTTLS, or TLS on port 465), the recipients, the webhook.
        let alerts = input.alerts
        values["alertSMTP"] = .optional(
            input.smtp.flatMap { smtp in
                alerts?.emails.isEmpty == false
                    ? [
                        "host": .text(smtp.host.value), "port": .number(smtp.port.value),
                        "user": .text(smtp.user.value), "sender": .text(smtp.sender.value),
                    ] : nil
            })
        values["alertEmails"] = .optional(
            alerts.flatMap { $0.emails.isEmpty ? nil : ["to": .text($0.emails.map(\.value).joined(separator: ", "))] })
        values["alertWebhook"] = .optional(
            alerts?.webhook == true ? secrets[.alertsWebhookURL].map { ["url": .text($0)] } : nil)
        values["secrets"] = .list(
            envSecrets.compactMap { name in
                secrets[name].map { .record(["name": .text(name.value), "value": .text($0)]) }
            })
        return values
    }

    /// Whether the stack file holds `service`: compose starts a profile's services by its profiles, so it holds
    /// all of them but the pooler; a swarm stack holds only those that run, and the pooler when app-api runs more
    /// than one task.
    static func includes(_ service: StackService, _ input: RenderInput) -> Bool {
        let swarm = input.target == .swarm
        if service == .appPooler { return swarm && input.swarm.runsPooler }
        return !swarm || input.profile.runs(service)
    }

    /// PgBouncer's pool: app-db's connections for all the app-api tasks together, a quarter of `max_connections`
    /// (the rest is GoTrue's, the exporter's, sbs's and the superuser's reserve); transaction pooling, so a task's
    /// idle connections hold none of them.
    static func poolerConnections(_ profile: ResolvedProfile) -> Int { max(profile.postgres.maxConnections / 4, 5) }

    /// A service's row of `ServicePrivileges`, for _privileges.yml.
    static func privilegeValues(_ privileges: ServicePrivileges) -> [String: TemplateValue] {
        [
            "hasCapabilities": .flag(!privileges.capabilities.isEmpty),
            "capabilities": .list(
                privileges.capabilities.map { .record(["name": .text($0.name), "why": .text($0.why)]) }),
            "readOnly": .flag(privileges.readOnly),
            "hasWritable": .flag(!privileges.writable.isEmpty),
            "writable": .list(privileges.writable.map { .record(["path": .text($0.path), "why": .text($0.why)]) }),
            "writableRootWhy": .optional(privileges.writableRootWhy.map { ["why": .text($0)] }),
        ]
    }
}
