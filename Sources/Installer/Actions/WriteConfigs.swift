import Deploy
import FoundationEssentials
import HTTPClient
import Host
import Render
import SBSCore
import StepGraph
import Wizard

/// `write-configs`: renders docker-compose.yml, nginx (bootstrap and TLS), kong.yml, .env (0600) and the
/// monitoring files into the deploy folder. Writes are atomic; a file that would change (a hand edit, say) is
/// backed up first into `<root>/var/lib/sbs/backups/configs-TIME/`; unchanged files are left alone. Every file is
/// a product: a missing or edited one makes the next run write it again.
struct WriteConfigs: StepAction {
    static let name = "write-configs"

    struct Input: Codable, Hashable, Sendable {
        var render: RenderInput
        var templates: [String: String]
        var deployDir: String
        var backupDir: String
        var secretsFile: String
        var secrets: KeyedDigest
        /// Folders the stack mounts, made if missing.
        var folders: [String]
    }

    struct Output: Codable, Hashable, Sendable {
        var deployDir: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(
            render: try Self.renderInput(
                context.answers, layout: context.layout, profile: try needs.output(of: ChooseProfile.self)),
            templates: context.assets.files(under: TemplateSet.folder), deployDir: context.deployDir,
            backupDir: context.layout.backupDir, secretsFile: context.layout.secretsFile,
            secrets: try needs.output(of: GenerateSecrets.self).secrets,
            // A swarm, unlike compose, does not make a bind mount's missing folder: the task is rejected.
            folders: [context.layout.webrootDir, context.layout.sslDir, TextfileMetrics.directory(in: context.layout)])
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let secrets = try SecretsFile(path: input.secretsFile).load()
        for value in secrets.allValues { log.runLog.addSecret(value) }
        let files = try ConfigRenderer.render(
            input.render, secrets: secrets, templates: TemplateSet(files: input.templates))
        let stamp = RunStamp.make()
        let writer = ConfigWriter(
            deployDirectory: input.deployDir, backupDirectory: input.backupDir + "/configs-" + stamp)
        let report = try writer.write(files)
        for folder in input.folders { try AtomicFile.makeDirectories(folder) }
        log.progress(
            "\(files.count) files in \(input.deployDir): \(report.written.count) written, \(report.unchanged.count) unchanged"
                + (report.backedUp.isEmpty
                    ? ""
                    : ", previous versions of \(report.backedUp.joined(separator: ", ")) backed up to \(writer.backupDirectory)")
        )
        let products = files.map { ProductFile(input.deployDir + "/" + $0.relativePath, secret: $0.mode & 0o077 == 0) }
        return StepResult(Output(deployDir: input.deployDir), products: products)
    }

    /// The answers and the chosen profile as the renderer's input. Values were validated when the answers were
    /// read; this only changes their types (and `sbs answers validate` runs it too, so what it refuses is refused
    /// before anything is written).
    static func renderInput(_ answers: Answers, layout: Layout, profile: ResolvedProfile) throws(UserError)
        -> RenderInput
    {
        guard let domain = answers.domain, let email = answers.adminEmail else {
            throw UserError(
                "The domain and the administrator e-mail are needed to write the configuration.",
                remedy: "Add them to the answers, then run again.")
        }
        func image(_ service: StackService) throws(UserError) -> SafeToken {
            try SafeToken(answers.image(service), what: "image name")
        }
        let images = try StackImages(image)
        let tls: TLSSource
        switch answers.tlsMode {
        case .acme: tls = .acme(directory: try SafeToken(layout.sslDir, what: "certificate folder"))
        case .selfSigned: tls = .selfSigned(directory: try SafeToken(layout.sslDir, what: "certificate folder"))
        case .files:
            guard let cert = answers.certFile, let key = answers.keyFile else {
                throw UserError(
                    "tls.mode files needs tls.cert_file and tls.key_file.", remedy: "Add both to the answers.")
            }
            tls = .files(
                certificate: try SafeToken(cert, what: "certificate file"), key: try SafeToken(key, what: "key file"))
        }
        var smtp: SMTPSettings?
        if let host = answers.smtpHost {
            let sender = answers.smtpSender ?? email
            var port = answers.smtpPort
            if port == nil { port = try SBSCore.Port(587) }
            var user = answers.smtpUser
            if user == nil { user = try SafeToken(sender.value, what: "SMTP user") }
            if let port, let user { smtp = SMTPSettings(host: host, port: port, user: user, sender: sender) }
        }
        var input = try RenderInput(
            mode: answers.mode == .development ? .development : .production, domain: domain,
            aliases: answers.aliases, adminEmail: email,
            httpPort: answers.httpPort, httpsPort: answers.httpsPort, images: images, tls: tls,
            acmeWebroot: try SafeToken(layout.webrootDir, what: "ACME webroot"),
            profile: profile, backups: answers.backups != .off, smtp: smtp,
            alerts: answers.alertEmails.isEmpty && answers.alertWebhook == nil
                ? nil : AlertsSettings(emails: answers.alertEmails, webhook: answers.alertWebhook != nil))
        input.projectName = ComposeProject.name(forRoot: layout.root)
        input.alertTimings = answers.alertTimings
        input.hsts = answers.hsts
        input.target = answers.target
        input.swarm = answers.swarm
        input.metricsDirectory = try SafeToken(TextfileMetrics.directory(in: layout), what: "metrics folder")
        if let url = answers.proxy {
            var entries: [NoProxyEntry] = []
            for entry in OutboundProxy.direct(answers) { entries.append(try NoProxyEntry(entry)) }
            input.proxy = ContainerProxy(url: url, noProxy: entries)
        }
        if answers.tlsMode == .acme, let bundle = answers.acmeCABundle {
            input.siteCABundle = try SafeToken(bundle, what: "CA bundle")
        }
        return input
    }
}
