import Foundation
import Host
import Render
import SBSCore
import StepGraph
import Wizard

/// `write-configs`: renders docker-compose.yml, nginx (bootstrap and TLS), kong.yml, .env (0600) and the
/// monitoring files into the deploy folder. Writes are atomic; a file that would change is backed up first into
/// `<root>/var/lib/sbs/backups/configs-TIME/`; unchanged files are left alone.
struct WriteConfigs: InstallAction {
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        let answers = context.answers
        var inputs = answers.facts.filter { key, _ in
            ["mode", "domain", "aliases", "admin_email", "tls.", "ports.", "paths.", "images.", "features.backups", "smtp."]
                .contains { key == $0 || ($0.hasSuffix(".") && key.hasPrefix($0)) }
        }
        inputs["templates"] = context.assets.digest(under: TemplateSet.folder)
        // The rendered .env holds the secrets: a changed secret renders again, and state.json sees only an HMAC.
        let secrets = (try? AtomicFile.read(context.layout.secretsFile)) ?? nil
        inputs["secrets"] = try context.secretDigest(String(decoding: secrets ?? [], as: UTF8.self))
        return inputs
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        let input = try renderInput(context)
        let secrets = try SecretsFile(path: context.layout.secretsFile).load()
        for value in secrets.allValues { log.runLog.addSecret(value) }
        var templateFiles: [String: String] = [:]
        for path in context.assets.paths(under: TemplateSet.folder) { templateFiles[path] = try context.assets.text(path) }
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: TemplateSet(files: templateFiles))

        let deployDir = context.layout.resolve(context.answers.deployDir)
        let stamp = Date().formatted(Date.ISO8601FormatStyle(timeZone: .gmt).dateSeparator(.omitted).timeSeparator(.omitted))
        let writer = ConfigWriter(deployDirectory: deployDir, backupDirectory: context.layout.backupDir + "/configs-" + stamp)
        let report = try writer.write(files)
        try AtomicFile.makeDirectories(context.layout.webrootDir)
        try AtomicFile.makeDirectories(context.layout.sslDir)
        log.progress("\(files.count) files in \(deployDir): \(report.written.count) written, \(report.unchanged.count) unchanged"
            + (report.backedUp.isEmpty ? "" : ", previous versions of \(report.backedUp.joined(separator: ", ")) backed up to \(writer.backupDirectory)"))
        return ["deploy_dir": deployDir]
    }

    /// The answers and the chosen profile as the renderer's input. Values were validated when the answers were
    /// read; this only changes their types.
    func renderInput(_ context: InstallContext) throws -> RenderInput {
        let answers = context.answers
        guard let domain = answers.domain, let email = answers.adminEmail else {
            throw UserError("The domain and the administrator e-mail are needed to write the configuration.",
                            remedy: "Add them to the answers, then run `sbs resume`.")
        }
        let profile = try JSONFile.read(ResolvedProfile.self, from: context.layout.profileFile, writtenBy: "choose-profile")
        func image(_ service: Service) throws(UserError) -> SafeToken { try SafeToken(answers.image(service), what: "image name") }
        let images = StackImages(appDB: try image(.appDB), appAuth: try image(.appAuth), appAPI: try image(.appAPI),
                                 appWeb: try image(.appWeb), appKong: try image(.appKong), nginx: try image(.nginx),
                                 ollama: try image(.ollama), monitoring: try image(.monitoring), prometheus: try image(.prometheus))
        let tls: TLSSource
        switch answers.tlsMode {
        case .acme: tls = .acme(directory: try SafeToken(context.layout.sslDir, what: "certificate folder"))
        case .selfSigned: tls = .selfSigned(directory: try SafeToken(context.layout.sslDir, what: "certificate folder"))
        case .files:
            guard let cert = answers.certFile, let key = answers.keyFile else {
                throw UserError("tls.mode files needs tls.cert_file and tls.key_file.", remedy: "Add both to the answers.")
            }
            tls = .files(certificate: try SafeToken(cert, what: "certificate file"), key: try SafeToken(key, what: "key file"))
        }
        var smtp: SMTPSettings?
        if let host = answers.smtpHost {
            let sender = answers.smtpSender ?? email
            let port = try answers.smtpPort ?? SBSCore.Port(587)
            let user = try answers.smtpUser ?? SafeToken(sender.value, what: "SMTP user")
            smtp = SMTPSettings(host: host, port: port, user: user, sender: sender)
        }
        return try RenderInput(mode: answers.mode == .development ? .development : .production, domain: domain,
                               aliases: answers.aliases.filter { $0 != domain }, adminEmail: email,
                               httpPort: answers.httpPort, httpsPort: answers.httpsPort, images: images, tls: tls,
                               acmeWebroot: try SafeToken(context.layout.webrootDir, what: "ACME webroot"),
                               profile: profile, backups: answers.backups != .false, smtp: smtp)
    }
}
