import FoundationEssentials
import Host
import SBSCore

/// Asks for what the answers left open, re-asking with the reason when an answer is invalid, then shows a
/// summary and asks for confirmation. Nothing is written here: the caller acts only on a confirmed result.
public struct Wizard {
    public let terminal: any Terminal

    public init(terminal: any Terminal) {
        self.terminal = terminal
    }

    /// The person declined the summary, or closed the input.
    public struct Declined: Error {}

    /// Completes `answers`.
    /// - Parameters:
    ///   - previous: the answers of an earlier run, offered as defaults.
    ///   - detectedProfile: the profile detection recommends, offered as the default for `profile`.
    ///   - storedSecrets: secrets already kept from an earlier run, which need not be asked again.
    /// - Throws: `Declined` when the summary is not confirmed or input ends.
    ///   - runsMonitoring: whether the answers (as completed so far) make the stack run monitoring, whose alerts are
    ///     then asked for.
    public func complete(
        _ answers: Answers, given: Set<String>, previous: Answers?, detectedProfile: String?,
        storedSecrets: Set<AnswerSecret>, runsMonitoring: (Answers) -> Bool = { _ in false }
    ) throws -> Answers {
        var result = answers
        terminal.write(
            "sbs will install the Small Business Server. Press Enter to accept the value shown; Tab completes choices.\n\n"
        )

        if !given.contains("domain") {
            result.domain = try ask(
                "Domain name (DNS must point at this server)", initial: previous?.domain?.value ?? ""
            ) { text throws(UserError) in
                try DomainName(text)
            }
        }
        if !given.contains("admin_email") {
            let suggestion = previous?.adminEmail?.value ?? result.domain.map { "admin@\($0.value)" } ?? ""
            result.adminEmail = try ask("Administrator e-mail (for Let's Encrypt and alerts)", initial: suggestion) {
                text throws(UserError) in
                try EmailAddress(text)
            }
        }
        if !given.contains("profile") {
            let choices = ProfileRequest.allCases.map(\.rawValue)
            let initial = previous?.profile.rawValue ?? "auto"
            let hint = detectedProfile.map { " (detected: \($0))" } ?? ""
            result.profile = try ask(
                "Performance profile [\(choices.joined(separator: "|"))]\(hint)", initial: initial, completions: choices
            ) { text throws(UserError) in
                guard let profile = ProfileRequest(rawValue: text) else {
                    throw UserError(
                        "'\(text.debugSafe)' is not a profile; choose one of \(choices.joined(separator: ", "))")
                }
                return profile
            }
        }
        if !given.contains("tls.mode") {
            let choices = TLSMode.allCases.map(\.rawValue)
            result.tlsMode = try ask(
                "TLS certificates [\(choices.joined(separator: "|"))]", initial: previous?.tlsMode.rawValue ?? "acme",
                completions: choices
            ) { text throws(UserError) in
                guard let mode = TLSMode(rawValue: text) else {
                    throw UserError(
                        "'\(text.debugSafe)' is not a TLS mode; choose one of \(choices.joined(separator: ", "))")
                }
                return mode
            }
        }
        if result.mode == .production, !given.contains("tls.hsts_include_subdomains") {
            try askHSTSSubdomains(&result, previous: previous)
        }
        if result.backups != .off, !given.contains("backups.repository") {
            try askBackups(&result, previous: previous, storedSecrets: storedSecrets)
        }
        if !given.contains("alerts"), runsMonitoring(result) {
            try askAlerts(&result, given: given, previous: previous, storedSecrets: storedSecrets)
        }
        if result.mode == .production, result.secrets[.anthropicAPIKey] == nil,
            !storedSecrets.contains(.anthropicAPIKey)
        {
            while true {
                guard let key = try terminal.readSecret(prompt: "Anthropic API key (input hidden): ") else {
                    throw Declined()
                }
                if key.isEmpty {
                    terminal.write("  ✗ The key is needed: the minimum profile answers through the API.\n")
                    continue
                }
                if key.contains(where: { $0.isWhitespace }) {
                    terminal.write("  ✗ The key contains white space; paste it again.\n")
                    continue
                }
                do { try SecretText.validate(key) } catch {
                    terminal.write("  ✗ The key is not usable: \(error.message).\n")
                    continue
                }
                result.secrets[.anthropicAPIKey] = .literal(key)
                break
            }
        }

        terminal.write("\n" + Wizard.summary(result, storedSecrets: storedSecrets) + "\n")
        while true {
            guard
                let reply = terminal.readLine(
                    prompt: "Proceed with these answers? [Y/n] ", initial: "", completions: ["yes", "no"])
            else {
                throw Declined()
            }
            switch reply.lowercased() {
            case "", "y", "yes": return result
            case "n", "no": throw Declined()
            default: terminal.write("  Answer y or n.\n")
            }
        }
    }

    /// Whether the HSTS header covers every name under the domain too. Only this is asked: max-age and preload keep
    /// their defaults unless the answers file sets them (`tls.hsts_max_age`, `tls.hsts_preload`).
    func askHSTSSubdomains(_ result: inout Answers, previous: Answers?) throws {
        let domain = result.domain?.value ?? "the domain"
        let years = result.hsts.maxAgeText
        terminal.write(
            "\nA browser that visited https://\(domain) keeps to HTTPS for it for \(years) (HSTS). It can do the same for\nevery name under it (intranet.\(domain), printer.\(domain) …): it then refuses plain HTTP on all of them.\nSay yes only if every such name serves HTTPS.\n"
        )
        let initial = (previous ?? result).hsts.includeSubdomains ? "yes" : "no"
        result.hsts.includeSubdomains = try ask(
            "Keep every name under \(domain) to HTTPS too? [yes|no]",
            initial: initial, completions: ["yes", "no"]
        ) { text throws(UserError) in
            switch text.lowercased() {
            case "y", "yes": return true
            case "n", "no": return false
            default: throw UserError("'\(text.debugSafe)' is not yes or no")
            }
        }
        if result.hsts.preload && !result.hsts.includeSubdomains {
            // Preloading needs includeSubDomains: a policy that stops covering the names under the domain stops
            // being preloadable, rather than making the answers unreadable.
            result.hsts.preload = false
            terminal.write("  tls.hsts_preload is off now: preloading needs every name under \(domain).\n")
        }
    }

    /// Where the backups go, and the credentials an S3 or REST repository needs (secrets hidden, not asked again
    /// when kept from before for the same repository).
    func askBackups(_ result: inout Answers, previous: Answers?, storedSecrets: Set<AnswerSecret>) throws {
        let initial = (previous ?? result).backupRepository.value
        result.backupRepository = try ask(
            "Backups go to (a folder, sftp:user@host:/path, s3:https://host/bucket or rest:https://host:port/)",
            initial: initial
        ) { text throws(UserError) in try BackupRepository(text) }
        let same = previous?.backupRepository == result.backupRepository
        // What belonged to another kind of repository goes: kept, it would make the answers unreadable.
        let kind = result.backupRepository.kind
        if kind != .sftp { result.backupSFTP = nil }
        if kind != .s3 { (result.backupS3AccessKeyID, result.backupS3SecretKey) = (nil, nil) }
        if kind != .rest { (result.backupRESTUser, result.backupRESTPassword) = (nil, nil) }
        switch kind {
        case .local:
            terminal.write(
                "  A folder on this server protects against a broken database, not a lost disk: copy it elsewhere.\n")
        case .sftp:
            terminal.write(
                "  restic reaches it with root's ssh configuration (its key, the host's known key); an answers file can name others (backups.sftp).\n"
            )
        case .s3:
            result.backupS3AccessKeyID = try ask(
                "S3 access key id", initial: (same ? previous?.backupS3AccessKeyID?.value : nil) ?? ""
            ) { text throws(UserError) in try SafeToken(text, what: "access key id") }
            let kept =
                same && result.backupS3AccessKeyID == previous?.backupS3AccessKeyID
                && storedSecrets.contains(.backupS3SecretKey)
            result.backupS3SecretKey =
                kept ? .stored : .literal(try askSecret("S3 secret access key (input hidden): "))
        case .rest:
            let user = try ask(
                "REST server user (empty: the server asks for no login)",
                initial: (same ? previous?.backupRESTUser?.value : nil) ?? ""
            ) { text throws(UserError) in text.isEmpty ? nil : try SafeToken(text, what: "user") }
            result.backupRESTUser = user
            if user == nil {
                result.backupRESTPassword = nil
            } else if same, user == previous?.backupRESTUser, storedSecrets.contains(.backupRESTPassword) {
                result.backupRESTPassword = .stored
            } else {
                result.backupRESTPassword = .literal(try askSecret("REST server password (input hidden): "))
            }
        }
    }

    /// Who the monitoring's alerts reach by mail, and the relay that carries them when the answers give none (its
    /// password hidden, not asked again when the same relay and login kept one). A chat's webhook is an answers
    /// file's (`alerts.webhook`).
    func askAlerts(_ result: inout Answers, given: Set<String>, previous: Answers?, storedSecrets: Set<AnswerSecret>)
        throws
    {
        terminal.write(
            "\nThe monitoring mails a person when the server needs help (a disk filling up, a service down, a certificate\nnot renewed). A chat's webhook can be given in an answers file (alerts.webhook).\n"
        )
        let offered = previous.map {
            $0.alertEmails.isEmpty ? "none" : $0.alertEmails.map(\.value).joined(separator: ", ")
        }
        result.alertEmails = try ask(
            "Alerts by e-mail to (addresses separated by commas, or none)",
            initial: offered ?? result.adminEmail?.value ?? ""
        ) { text throws(UserError) in try Wizard.emailList(text) }
        guard !result.alertEmails.isEmpty, !given.contains("smtp") else { return }
        let relay = try ask(
            "Mail relay for the alerts (host, or host:port; port 587 with STARTTLS unless given, 465 is TLS)",
            initial: previous?.smtpHost.map { host in
                host.value + (previous?.smtpPort.map { ":\($0)" } ?? "")
            } ?? ""
        ) { text throws(UserError) in try Wizard.relay(text) }
        result.smtpHost = relay.host
        result.smtpPort = relay.port
        result.smtpUser = try ask("Relay login (user name)", initial: previous?.smtpUser?.value ?? "") {
            text throws(UserError) in try SafeToken(text, what: "relay login")
        }
        if previous?.smtpHost == result.smtpHost, previous?.smtpUser == result.smtpUser,
            storedSecrets.contains(.smtpPassword)
        {
            result.smtpPassword = .stored
        } else {
            result.smtpPassword = .literal(try askSecret("Relay password (input hidden): "))
        }
        let domain = result.domain.map { "sbs@\($0.value)" } ?? ""
        result.smtpSender = try ask("Sender address of the alerts", initial: previous?.smtpSender?.value ?? domain) {
            text throws(UserError) in try EmailAddress(text)
        }
    }

    /// `a@b, c@d` (or `none`, or nothing) as addresses, each once.
    /// - Throws: `UserError` naming the first address that is not one.
    static func emailList(_ text: String) throws(UserError) -> [EmailAddress] {
        if text.isEmpty || text.lowercased() == "none" { return [] }
        var addresses: [EmailAddress] = []
        for part in text.split(separator: ",") {
            let address = try EmailAddress(String(part).trimmed)
            if !addresses.contains(address) { addresses.append(address) }
        }
        return addresses
    }

    /// `host` or `host:port` of a mail relay; the port 587 when not given.
    /// - Throws: `UserError` when the host is not a domain name or the port not a port.
    static func relay(_ text: String) throws(UserError) -> (host: DomainName, port: SBSCore.Port) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            throw UserError("'\(text.debugSafe)' is not host or host:port")
        }
        let host = try DomainName(String(parts[0]))
        guard parts.count == 2 else { return (host, try Port(587)) }
        guard let number = Int(parts[1]) else { throw UserError("'\(String(parts[1]).debugSafe)' is not a port") }
        return (host, try Port(number))
    }

    /// A secret typed hidden, asked again while it is empty or not storable.
    func askSecret(_ prompt: String) throws -> String {
        while true {
            guard let value = try terminal.readSecret(prompt: prompt) else { throw Declined() }
            if value.isEmpty {
                terminal.write("  ✗ It is needed to reach the repository.\n")
                continue
            }
            do { try SecretText.validate(value) } catch {
                terminal.write("  ✗ It is not usable: \(error.message).\n")
                continue
            }
            return value
        }
    }

    func ask<T>(
        _ question: String, initial: String, completions: [String] = [],
        _ parse: (String) throws(UserError) -> T
    ) throws -> T {
        while true {
            guard let line = terminal.readLine(prompt: "\(question): ", initial: initial, completions: completions)
            else {
                throw Declined()
            }
            do {
                return try parse(line.trimmed)
            } catch {
                terminal.write("  ✗ \(error.message)\n" + (error.remedy.map { "    \($0)\n" } ?? ""))
            }
        }
    }

    /// The answers as a person reads them before confirming; secrets only as given or not.
    public static func summary(_ answers: Answers, storedSecrets: Set<AnswerSecret> = []) -> String {
        var lines = ["Summary:"]
        lines.append("  domain            \(answers.domain?.value ?? "(missing)")")
        if !answers.aliases.isEmpty {
            lines.append("  aliases           \(answers.aliases.map(\.value).joined(separator: ", "))")
        }
        lines.append("  admin e-mail      \(answers.adminEmail?.value ?? "(missing)")")
        lines.append("  profile           \(answers.profile.rawValue)")
        lines.append(
            "  TLS               \(answers.tlsMode.rawValue)\(answers.tlsMode == .acme ? " (\(answers.acmeDirectory.value))" : "")"
        )
        if answers.mode == .production {
            let hsts = answers.hsts
            let scope =
                hsts.includeSubdomains
                ? "every name under \(answers.domain?.value ?? "the domain") too" : "this name only"
            lines.append(
                "  HSTS              \(hsts.maxAge == 0 ? "off (max-age=0)" : "\(hsts.maxAgeText), \(scope)")\(hsts.preload ? ", preloaded" : "")"
            )
        }
        lines.append("  ports             http \(answers.httpPort), https \(answers.httpsPort)")
        lines.append("  deploy folder     \(answers.deployDir)")
        lines.append("  backups           \(answers.backups == .off ? "off" : answers.backupRepository.value)")
        if !answers.alertEmails.isEmpty || answers.alertWebhook != nil {
            let to = answers.alertEmails.map(\.value) + (answers.alertWebhook == nil ? [] : ["the webhook"])
            lines.append("  alerts            \(to.joined(separator: ", "))")
        }
        if let host = answers.smtpHost {
            let login = answers.smtpUser.map { " as \($0.value)" } ?? ""
            lines.append("  mail relay        \(host.value):\(answers.smtpPort?.description ?? "587")\(login)")
        }
        for name in AnswerSecret.secretsSection {
            let state =
                answers.secrets[name] != nil ? "given" : storedSecrets.contains(name) ? "kept from before" : "not given"
            lines.append("  \(name.key.padded(to: 18))\(state)")
        }
        return lines.joined(separator: "\n")
    }
}
