import FoundationEssentials
import Glibc
import Host
import SBSCore
import YAML

/// Every problem of an answers file at once, each with its line and column.
public struct AnswersError: Error, Sendable, CustomStringConvertible {
    public var problems: [YAMLProblem]
    public var description: String {
        "The answers are not valid (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Reads and writes answers files (`version: 1`).
public enum AnswersFile {
    static let topKeys = [
        "version", "mode", "domain", "aliases", "admin_email", "profile", "features", "tls", "secrets",
        "images", "registry", "ports", "paths", "backups", "alerts", "smtp", "network", "checks", "firewall",
        "proxy", "target", "swarm",
    ]

    /// Parses and validates an answers file, collecting every problem.
    /// - Throws: `AnswersError` listing each problem with line and column.
    public static func parse(_ text: String, file: String) throws(AnswersError) -> Answers {
        let reader = YAMLReader(file: file)
        var answers = Answers()
        guard let root = reader.parse(text) else { throw AnswersError(problems: reader.problems) }
        let top = reader.mapping(root, path: "", allowed: topKeys)
        answers.given = Set(top.keys)
        func locate(_ key: String, _ node: YAMLNode) {
            answers.origin.locations[key] = "\(file):\(node.mark.line):\(node.mark.column)"
        }
        for (key, node) in top { locate(key, node) }
        for section in [
            "features", "tls", "secrets", "images", "registry", "ports", "paths", "backups", "smtp", "network",
            "checks", "proxy", "swarm",
        ] {
            if case .mapping(let mapping)? = top[section] {
                for (keyNode, node) in mapping {
                    guard let key = keyNode.string else { continue }
                    answers.given.insert("\(section).\(key)")
                    locate("\(section).\(key)", node)
                    if case .mapping(let inner) = node {
                        for (innerKey, innerNode) in inner {
                            if let name = innerKey.string { locate("\(section).\(key).\(name)", innerNode) }
                        }
                    }
                }
            }
        }

        func value<T>(_ node: YAMLNode?, _ path: String, _ make: (String) throws(UserError) -> T) -> T? {
            guard let node, let text = reader.string(node, path: path) else { return nil }
            do { return try make(text) } catch {
                reader.report(node, "\(path): \(error.message)")
                return nil
            }
        }
        func choice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode?, _ path: String, _: T.Type) -> T?
        where T.RawValue == String {
            guard let node, let text = reader.string(node, path: path) else { return nil }
            guard let result = T(rawValue: text) else {
                reader.report(
                    node,
                    "\(path) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text.debugSafe)'"
                )
                return nil
            }
            return result
        }
        func path(_ node: YAMLNode?, _ key: String) -> String? {
            value(node, key) { (text: String) throws(UserError) -> String in
                guard text.hasPrefix("/") else { throw UserError("'\(text.debugSafe)' must be an absolute path") }
                return try SafeToken(text, what: "path").value
            }
        }
        func port(_ node: YAMLNode?, _ key: String) -> SBSCore.Port? {
            guard let node, let number = reader.int(node, path: key) else { return nil }
            do { return try SBSCore.Port(number) } catch {
                reader.report(node, "\(key): \(error.message)")
                return nil
            }
        }
        func secret(_ node: YAMLNode?, _ key: String) -> SecretSource? {
            value(node, key) { (text: String) throws(UserError) -> SecretSource in
                if text.isEmpty { throw UserError("the secret is empty") }
                let source = SecretSource(text)
                switch source {
                case .environment(let name)
                where name.isEmpty
                    || !name.unicodeScalars.allSatisfy({
                        $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_")
                    }):
                    throw UserError("'env:\(name.debugSafe)' does not name an environment variable")
                case .file(let file) where !file.hasPrefix("/"):
                    throw UserError("'file:\(file.debugSafe)' must name an absolute path")
                case .literal(let value):
                    try SecretText.validate(value)
                    return source
                default: return source
                }
            }
        }

        if let versionNode = top["version"] {
            if let version = reader.int(versionNode, path: "version"), version != 1 {
                reader.report(versionNode, "version \(version) is not supported; this sbs reads version 1")
            }
        } else {
            reader.report(root, "missing 'version: 1' at the top")
        }
        if let mode = choice(top["mode"], "mode", InstallMode.self) { answers.mode = mode }
        answers.domain = value(top["domain"], "domain") { (text: String) throws(UserError) in try DomainName(text) }
        if let aliases = top["aliases"] {
            for (text, node) in reader.strings(aliases, path: "aliases") {
                guard let name = value(node, "aliases", { (_: String) throws(UserError) in try DomainName(text) })
                else { continue }
                // DomainName is lower-case: `Shop.Example.com` and `shop.example.com` are one name, as in DNS.
                if name == answers.domain {
                    reader.report(node, "aliases: '\(text.debugSafe)' is the domain itself; list each name once")
                } else if answers.aliases.contains(name) {
                    reader.report(node, "aliases: '\(text.debugSafe)' is listed twice; list each name once")
                } else if answers.aliases.count + 1 >= Answers.maximumNames {
                    reader.report(
                        node,
                        "aliases: at most \(Answers.maximumNames) names fit on one certificate (the domain and \(Answers.maximumNames - 1) aliases)"
                    )
                    break
                } else {
                    answers.aliases.append(name)
                }
            }
        }
        answers.adminEmail = value(top["admin_email"], "admin_email") { (text: String) throws(UserError) in
            try EmailAddress(text)
        }
        if let profile = choice(top["profile"], "profile", ProfileRequest.self) { answers.profile = profile }

        if let features = top["features"] {
            let map = reader.mapping(features, path: "features", allowed: ["gpu", "monitoring", "backups"])
            if let gpu = choice(map["gpu"], "features.gpu", FeatureSwitch.self) { answers.gpu = gpu }
            if let monitoring = choice(map["monitoring"], "features.monitoring", FeatureSwitch.self) {
                answers.monitoring = monitoring
            }
            if let backups = choice(map["backups"], "features.backups", FeatureSwitch.self) {
                answers.backups = backups
            }
        }

        if let tls = top["tls"] {
            let map = reader.mapping(
                tls, path: "tls",
                allowed: [
                    "mode", "acme_directory", "acme_ca_bundle", "eab", "cert_file", "key_file", "hsts_max_age",
                    "hsts_include_subdomains", "hsts_preload",
                ])
            if let mode = choice(map["mode"], "tls.mode", TLSMode.self) { answers.tlsMode = mode }
            if let directory = value(
                map["acme_directory"], "tls.acme_directory",
                { (text: String) throws(UserError) in try ACMEServer(text) })
            {
                answers.acmeDirectory = directory
            }
            answers.acmeCABundle = path(map["acme_ca_bundle"], "tls.acme_ca_bundle")
            answers.certFile = path(map["cert_file"], "tls.cert_file")
            answers.keyFile = path(map["key_file"], "tls.key_file")
            if let eab = map["eab"] {
                let fields = reader.mapping(eab, path: "tls.eab", allowed: ["kid", "hmac_key"])
                answers.eabKeyID = value(fields["kid"], "tls.eab.kid") { (text: String) throws(UserError) in
                    try SafeToken(text, what: "EAB key id").value
                }
                answers.eabHMACKey = secret(fields["hmac_key"], "tls.eab.hmac_key")
                if (answers.eabKeyID == nil) != (answers.eabHMACKey == nil), case .mapping = eab {
                    reader.report(eab, "tls.eab needs both kid and hmac_key")
                }
            }
            if let node = map["hsts_max_age"], let seconds = reader.int(node, path: "tls.hsts_max_age") {
                answers.hsts.maxAge = seconds
            }
            if let node = map["hsts_include_subdomains"],
                let flag = reader.bool(node, path: "tls.hsts_include_subdomains")
            {
                answers.hsts.includeSubdomains = flag
            }
            if let node = map["hsts_preload"], let flag = reader.bool(node, path: "tls.hsts_preload") {
                answers.hsts.preload = flag
            }
            for problem in answers.hsts.problems {
                reader.report(map[String(problem.answer.dropFirst("tls.".count))] ?? tls, problem.message)
            }
        }

        if let secrets = top["secrets"] {
            let map = reader.mapping(secrets, path: "secrets", allowed: AnswerSecret.secretsSection.map(\.key))
            for name in AnswerSecret.secretsSection {
                if let source = secret(map[name.key], name.rawValue) { answers.secrets[name] = source }
            }
        }

        if let images = top["images"] {
            let map = reader.mapping(
                images, path: "images", allowed: StackService.allCases.map(\.rawValue) + ["archive"])
            for service in StackService.allCases {
                answers.images[service] = value(map[service.rawValue], "images.\(service.rawValue)") {
                    (text: String) throws(UserError) in
                    try ImageReference(text)
                }
            }
            answers.imagesArchive = path(map["archive"], "images.archive")
        }

        if let registry = top["registry"] {
            let map = reader.mapping(registry, path: "registry", allowed: ["server", "user", "password"])
            answers.registryServer = value(map["server"], "registry.server") { (text: String) throws(UserError) in
                try RegistryHost(text)
            }
            answers.registryUser = value(map["user"], "registry.user") {
                (text: String) throws(UserError) -> SafeToken in
                // docker keeps user:password in one field and splits it at the first ':'.
                if text.contains(":") {
                    throw UserError(
                        "'\(text.debugSafe)' holds a ':', which docker's stored credentials cannot carry in a user name"
                    )
                }
                return try SafeToken(text, what: "registry user")
            }
            answers.registryPassword = secret(map["password"], "registry.password")
            if case .mapping = registry,
                answers.registryServer == nil || answers.registryUser == nil || answers.registryPassword == nil
            {
                reader.report(registry, "registry needs server, user and password")
            }
        }

        if let ports = top["ports"] {
            let map = reader.mapping(ports, path: "ports", allowed: ["http", "https"])
            if let http = port(map["http"], "ports.http") { answers.httpPort = http }
            if let https = port(map["https"], "ports.https") { answers.httpsPort = https }
            if answers.httpPort == answers.httpsPort, let node = map["https"] {
                reader.report(node, "ports.http and ports.https must differ")
            }
        }

        if let paths = top["paths"] {
            let map = reader.mapping(paths, path: "paths", allowed: ["deploy_dir"])
            if let dir = path(map["deploy_dir"], "paths.deploy_dir") {
                if let problem = DeployFolder.problem(dir) {
                    reader.report(
                        map["deploy_dir"],
                        "paths.deploy_dir: '\(dir)' \(problem); give a folder of its own such as /opt/sbs")
                } else {
                    answers.deployDir = DeployFolder.normalized(dir)
                }
            }
        }

        if let backups = top["backups"] {
            let map = reader.mapping(
                backups, path: "backups",
                allowed: ["destination", "keep", "repository", "password", "sftp", "s3", "rest"])
            if let destination = path(map["destination"], "backups.destination") {
                answers.backupDestination = destination
            }
            // keep: N (daily), or {daily, weekly, monthly}.
            func count(_ node: YAMLNode?, _ key: String, _ range: ClosedRange<Int>) -> Int? {
                guard let node, let number = reader.int(node, path: key) else { return nil }
                guard range.contains(number) else {
                    reader.report(node, "\(key) must be from \(range.lowerBound) to \(range.upperBound)")
                    return nil
                }
                return number
            }
            if let keepNode = map["keep"] {
                if case .mapping = keepNode {
                    let keep = reader.mapping(keepNode, path: "backups.keep", allowed: ["daily", "weekly", "monthly"])
                    if let daily = count(keep["daily"], "backups.keep.daily", 1...365) { answers.backupKeep = daily }
                    if let weekly = count(keep["weekly"], "backups.keep.weekly", 0...520) {
                        answers.backupKeepWeekly = weekly
                    }
                    if let monthly = count(keep["monthly"], "backups.keep.monthly", 0...1200) {
                        answers.backupKeepMonthly = monthly
                    }
                } else if let daily = count(keepNode, "backups.keep", 1...365) {
                    answers.backupKeep = daily
                }
            }
            if let repository = value(map["repository"], "backups.repository", BackupRepository.init) {
                answers.backupRepository = repository
            }
            answers.backupPassword = secret(map["password"], "backups.password")
            if let sftpNode = map["sftp"] {
                let sftp = reader.mapping(
                    sftpNode, path: "backups.sftp", allowed: ["port", "identity_file", "known_hosts"])
                let sftpPort = port(sftp["port"], "backups.sftp.port")
                let identity = path(sftp["identity_file"], "backups.sftp.identity_file")
                let known = path(sftp["known_hosts"], "backups.sftp.known_hosts")
                if case .mapping = sftpNode, sftp["identity_file"] == nil || sftp["known_hosts"] == nil {
                    reader.report(sftpNode, "backups.sftp needs identity_file and known_hosts (absolute paths)")
                } else if let identity, let known {
                    do {
                        answers.backupSFTP = try SFTPAccess(
                            port: sftpPort ?? .ssh, identityFile: identity, knownHosts: known)
                    } catch { reader.report(sftpNode, error.message) }
                }
                if answers.backupRepository.kind != .sftp {
                    reader.report(sftpNode, "backups.sftp applies to an sftp:user@host:/path repository only")
                }
            }
            if let s3Node = map["s3"] {
                let s3 = reader.mapping(s3Node, path: "backups.s3", allowed: ["access_key_id", "secret_access_key"])
                answers.backupS3AccessKeyID = value(s3["access_key_id"], "backups.s3.access_key_id") {
                    (text: String) throws(UserError) in try SafeToken(text, what: "backups.s3.access_key_id")
                }
                answers.backupS3SecretKey = secret(s3["secret_access_key"], "backups.s3.secret_access_key")
                if case .mapping = s3Node, s3["access_key_id"] == nil || s3["secret_access_key"] == nil {
                    reader.report(s3Node, "backups.s3 needs access_key_id and secret_access_key")
                }
                if answers.backupRepository.kind != .s3 {
                    reader.report(s3Node, "backups.s3 applies to an s3:https://host/bucket repository only")
                }
            } else if answers.backupRepository.kind == .s3, let node = map["repository"] {
                reader.report(node, "an s3: repository needs backups.s3 with access_key_id and secret_access_key")
            }
            if let restNode = map["rest"] {
                let rest = reader.mapping(restNode, path: "backups.rest", allowed: ["user", "password"])
                answers.backupRESTUser = value(rest["user"], "backups.rest.user") {
                    (text: String) throws(UserError) in try SafeToken(text, what: "backups.rest.user")
                }
                answers.backupRESTPassword = secret(rest["password"], "backups.rest.password")
                if case .mapping = restNode, rest["user"] == nil || rest["password"] == nil {
                    reader.report(
                        restNode, "backups.rest needs user and password (or leave it out for a server without a login)")
                }
                if answers.backupRepository.kind != .rest {
                    reader.report(restNode, "backups.rest applies to a rest:https://host:port/ repository only")
                }
            }
        }

        if let alerts = top["alerts"] {
            let map = reader.mapping(
                alerts, path: "alerts", allowed: ["email", "webhook", "down_for", "group_interval"])
            if let emails = map["email"] {
                for (text, node) in reader.strings(emails, path: "alerts.email") {
                    guard
                        let address = value(
                            node, "alerts.email",
                            { (_: String) throws(UserError) in
                                try EmailAddress(text)
                            })
                    else { continue }
                    if answers.alertEmails.contains(address) {
                        reader.report(node, "alerts.email: '\(text.debugSafe)' is listed twice")
                    } else {
                        answers.alertEmails.append(address)
                    }
                }
                if !answers.alertEmails.isEmpty, top["smtp"] == nil {
                    reader.report(emails, "alerts.email needs smtp (host, sender): the alerts are mailed through it")
                }
            }
            answers.alertWebhook = secret(map["webhook"], "alerts.webhook")
            if let downFor = value(
                map["down_for"], "alerts.down_for",
                { (text: String) throws(UserError) in try AlertTimings.seconds(text) })
            {
                answers.alertTimings.downFor = downFor
            }
            if let interval = value(
                map["group_interval"], "alerts.group_interval",
                { (text: String) throws(UserError) in try AlertTimings.seconds(text) })
            {
                answers.alertTimings.groupInterval = interval
            }
            if case .mapping = alerts, map["email"] == nil, map["webhook"] == nil {
                reader.report(alerts, "alerts needs email (one address or a list) and/or webhook")
            }
        }

        if let smtp = top["smtp"] {
            let map = reader.mapping(smtp, path: "smtp", allowed: ["host", "port", "user", "password", "sender"])
            answers.smtpHost = value(map["host"], "smtp.host") { (text: String) throws(UserError) in
                try DomainName(text)
            }
            answers.smtpPort = port(map["port"], "smtp.port")
            answers.smtpUser = value(map["user"], "smtp.user") { (text: String) throws(UserError) in
                try SafeToken(text, what: "SMTP user")
            }
            answers.smtpPassword = secret(map["password"], "smtp.password")
            answers.smtpSender = value(map["sender"], "smtp.sender") { (text: String) throws(UserError) in
                try EmailAddress(text)
            }
            if case .mapping = smtp {
                // The auth service logs in to the relay with the password (SMTP_PASSWORD): without it, nothing can be
                // rendered. `stored` names the one an earlier install kept.
                let lacking = [
                    answers.smtpHost == nil && map["host"] == nil ? "a host" : nil,
                    answers.smtpPassword == nil && map["password"] == nil
                        ? "a password (or 'stored', env:NAME, file:/path)" : nil,
                ].compactMap { $0 }
                if !lacking.isEmpty { reader.report(smtp, "smtp needs \(lacking.joined(separator: " and "))") }
            }
        }

        if let network = top["network"] {
            let map = reader.mapping(network, path: "network", allowed: ["public_ip"])
            answers.publicIP = value(map["public_ip"], "network.public_ip") {
                (text: String) throws(UserError) -> String in
                guard isIPAddress(text) else { throw UserError("'\(text.debugSafe)' is not an IPv4 or IPv6 address") }
                return text
            }
        }

        if let checks = top["checks"] {
            let map = reader.mapping(checks, path: "checks", allowed: ["dns"])
            if let dns = choice(map["dns"], "checks.dns", DNSPolicy.self) { answers.dnsCheck = dns }
        }

        if let firewall = choice(top["firewall"], "firewall", FirewallSwitch.self) { answers.firewall = firewall }

        if let target = choice(top["target"], "target", DeployTarget.self) { answers.target = target }
        if let swarm = top["swarm"] {
            let map = reader.mapping(swarm, path: "swarm", allowed: ["replicas", "advertise_addr"])
            if answers.target != .swarm { reader.report(swarm, "swarm: applies to target: swarm only") }
            if let replicasNode = map["replicas"] {
                let replicas = reader.mapping(replicasNode, path: "swarm.replicas", allowed: ["api", "web"])
                for (key, node) in replicas {
                    guard let number = reader.int(node, path: "swarm.replicas.\(key)") else { continue }
                    let range = SwarmSettings.replicaRange
                    guard range.contains(number) else {
                        reader.report(
                            node, "swarm.replicas.\(key) must be from \(range.lowerBound) to \(range.upperBound)")
                        continue
                    }
                    if key == "api" { answers.swarm.apiReplicas = number } else { answers.swarm.webReplicas = number }
                }
            }
            answers.swarm.advertiseAddress = value(map["advertise_addr"], "swarm.advertise_addr") {
                (text: String) throws(UserError) -> String in
                guard isIPAddress(text) else { throw UserError("'\(text.debugSafe)' is not an IPv4 or IPv6 address") }
                return text
            }
        }

        if let proxy = top["proxy"] {
            let map = reader.mapping(proxy, path: "proxy", allowed: ["url", "no_proxy"])
            answers.proxy = value(map["url"], "proxy.url") { (text: String) throws(UserError) in try ProxyURL(text) }
            if map["url"] == nil { reader.report(proxy, "proxy needs a url (http://HOST:PORT)") }
            if let list = map["no_proxy"] {
                for (text, node) in reader.strings(list, path: "proxy.no_proxy") {
                    guard
                        let entry = value(
                            node, "proxy.no_proxy", { (_: String) throws(UserError) in try NoProxyEntry(text) })
                    else { continue }
                    if answers.noProxy.contains(entry) {
                        reader.report(node, "proxy.no_proxy: '\(text.debugSafe)' is listed twice; list each entry once")
                    } else {
                        answers.noProxy.append(entry)
                    }
                }
            }
        }

        if !reader.problems.isEmpty { throw AnswersError(problems: reader.problems) }
        return answers
    }

    /// Reads and validates the answers file at `path`.
    /// - Throws: `UserError` when it cannot be read, `AnswersError` when it is invalid.
    public static func load(_ path: String) throws -> Answers {
        guard let status = AtomicFile.status(of: path) else {
            throw UserError("The answers file \(path) does not exist.", remedy: "Check the path given to --answers.")
        }
        guard status.kind == .file, status.size <= sizeLimit else {
            throw UserError(
                "\(path) is not an answers file: \(status.kind == .file ? "it is larger than \(sizeLimit / 1024) KiB" : "it is not a regular file").",
                remedy: "Give the YAML answers file (see examples/demo.yaml).")
        }
        guard let bytes = try AtomicFile.read(path, limit: .answers),
            let text = String(validating: bytes, as: UTF8.self)
        else {
            throw UserError("\(path) is not UTF-8 text.", remedy: "Save the answers file as UTF-8.")
        }
        return try parse(text, file: path)
    }

    /// An answers file is a page of YAML; anything larger is a mistake (or an attack on the parser).
    public static let sizeLimit = 256 * 1024

    /// The answers as a file that `parse` reads back to the same answers.
    /// - Parameter secretValues: nil to keep secrets out: a literal is written as `stored` (its value is in
    ///   `secrets.env`). Given (export `--include-secrets`), every literal and `stored` secret is written as its
    ///   value, taken from here (a literal without an entry keeps its own value). `env:` and `file:` references
    ///   are always kept as they are.
    public static func render(_ answers: Answers, secretValues: [AnswerSecret: String]? = nil) -> String {
        func secret(_ name: AnswerSecret) -> String? {
            guard let source = answers.secretSources[name] else { return nil }
            switch source {
            case .environment, .file: return source.reference
            case .literal(let value): return secretValues.map { $0[name] ?? value } ?? "stored"
            case .stored: return secretValues?[name] ?? "stored"
            }
        }
        var out = "# sbs answers file (sbs answers validate FILE checks it).\n"
        if secretValues == nil, answers.secretSources.values.contains(where: { $0.reference == nil || $0 == .stored }) {
            out += "# A secret given as 'stored' is kept in /etc/sbs/secrets.env (0600) of the server this describes;\n"
            out += "# `sbs answers export --include-secrets` writes the values themselves.\n"
        }
        out += "version: 1\n"
        out += "mode: \(answers.mode.rawValue)\n"
        if let domain = answers.domain { out += "domain: \(domain)\n" }
        if !answers.aliases.isEmpty { out += "aliases: [\(answers.aliases.map(\.value).joined(separator: ", "))]\n" }
        if let email = answers.adminEmail { out += "admin_email: \(quote(email.value))\n" }
        out += "profile: \(answers.profile.rawValue)\n"
        out +=
            "features:\n  gpu: \(answers.gpu.rawValue)\n  monitoring: \(answers.monitoring.rawValue)\n  backups: \(answers.backups.rawValue)\n"
        out += "tls:\n  mode: \(answers.tlsMode.rawValue)\n  acme_directory: \(quote(answers.acmeDirectory.value))\n"
        if let bundle = answers.acmeCABundle { out += "  acme_ca_bundle: \(quote(bundle))\n" }
        if let kid = answers.eabKeyID, let hmac = secret(.eabHMACKey) {
            out += "  eab:\n    kid: \(quote(kid))\n    hmac_key: \(quote(hmac))\n"
        }
        if let cert = answers.certFile { out += "  cert_file: \(quote(cert))\n" }
        if let key = answers.keyFile { out += "  key_file: \(quote(key))\n" }
        out += "  hsts_max_age: \(answers.hsts.maxAge)\n"
        out += "  hsts_include_subdomains: \(answers.hsts.includeSubdomains)\n"
        out += "  hsts_preload: \(answers.hsts.preload)\n"
        let secretLines = AnswerSecret.secretsSection.compactMap { name in
            secret(name).map { "  \(name.key): \(quote($0))\n" }
        }
        if !secretLines.isEmpty { out += "secrets:\n" + secretLines.joined() }
        if !answers.images.isEmpty || answers.imagesArchive != nil {
            out += "images:\n"
            for service in StackService.allCases {
                if let image = answers.images[service] { out += "  \(service.rawValue): \(quote(image.value))\n" }
            }
            if let archive = answers.imagesArchive { out += "  archive: \(quote(archive))\n" }
        }
        if let server = answers.registryServer, let user = answers.registryUser,
            let password = secret(.registryPassword)
        {
            out +=
                "registry:\n  server: \(quote(server.value))\n  user: \(quote(user.value))\n  password: \(quote(password))\n"
        }
        out += "ports:\n  http: \(answers.httpPort)\n  https: \(answers.httpsPort)\n"
        out += "paths:\n  deploy_dir: \(quote(answers.deployDir))\n"
        out += "backups:\n  destination: \(quote(answers.backupDestination))\n"
        out += "  repository: \(quote(answers.backupRepository.value))\n"
        out +=
            "  keep:\n    daily: \(answers.backupKeep)\n    weekly: \(answers.backupKeepWeekly)\n    monthly: \(answers.backupKeepMonthly)\n"
        if let password = secret(.backupPassword) { out += "  password: \(quote(password))\n" }
        if let sftp = answers.backupSFTP {
            out +=
                "  sftp:\n    port: \(sftp.port)\n    identity_file: \(quote(sftp.identityFile))\n    known_hosts: \(quote(sftp.knownHosts))\n"
        }
        if let id = answers.backupS3AccessKeyID, let key = secret(.backupS3SecretKey) {
            out += "  s3:\n    access_key_id: \(quote(id.value))\n    secret_access_key: \(quote(key))\n"
        }
        if let user = answers.backupRESTUser, let password = secret(.backupRESTPassword) {
            out += "  rest:\n    user: \(quote(user.value))\n    password: \(quote(password))\n"
        }
        if !answers.alertEmails.isEmpty || answers.alertWebhook != nil {
            out += "alerts:\n"
            if !answers.alertEmails.isEmpty {
                out += "  email: [\(answers.alertEmails.map { quote($0.value) }.joined(separator: ", "))]\n"
            }
            if let webhook = secret(.alertsWebhook) { out += "  webhook: \(quote(webhook))\n" }
            let timings = answers.alertTimings
            if timings.downFor != AlertTimings.standard.downFor {
                out += "  down_for: \(AlertTimings.text(timings.downFor))\n"
            }
            if timings.groupInterval != AlertTimings.standard.groupInterval {
                out += "  group_interval: \(AlertTimings.text(timings.groupInterval))\n"
            }
        }
        if let host = answers.smtpHost {
            out += "smtp:\n  host: \(host)\n"
            if let port = answers.smtpPort { out += "  port: \(port)\n" }
            if let user = answers.smtpUser { out += "  user: \(quote(user.value))\n" }
            if let password = secret(.smtpPassword) { out += "  password: \(quote(password))\n" }
            if let sender = answers.smtpSender { out += "  sender: \(quote(sender.value))\n" }
        }
        if let ip = answers.publicIP { out += "network:\n  public_ip: \(quote(ip))\n" }
        out += "checks:\n  dns: \(answers.dnsCheck.rawValue)\n"
        out += "firewall: \(answers.firewall.rawValue)\n"
        out += "target: \(answers.target.rawValue)\n"
        if answers.target == .swarm {
            let swarm = answers.swarm
            out += "swarm:\n  replicas:\n    api: \(swarm.apiReplicas)\n    web: \(swarm.webReplicas)\n"
            if let address = swarm.advertiseAddress { out += "  advertise_addr: \(quote(address))\n" }
        }
        if let proxy = answers.proxy {
            out += "proxy:\n  url: \(quote(proxy.value))\n"
            if !answers.noProxy.isEmpty {
                out += "  no_proxy: [\(answers.noProxy.map { quote($0.value) }.joined(separator: ", "))]\n"
            }
        }
        return out
    }

    /// A double-quoted YAML scalar.
    static func quote(_ text: String) -> String { jsonString(text) }
}

func isIPAddress(_ text: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
}
