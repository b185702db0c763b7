import ACME
import Backups
import Deploy
import FoundationEssentials
import Glibc
import Host
import Processes
import Render
import SBSCore
import StepGraph
import Wizard
import X509

/// The installer's own part of a run's scope, kept in the state (opaque to the step graph) so that `sbs resume`
/// repeats the run.
public struct InstallInvocation: Codable, Sendable, Equatable {
    public var command: String
    public var answersFile: String?
    public var interactive: Bool
    public var sysroot: String?
    public var assets: String?

    public init(
        command: String = "install", answersFile: String? = nil, interactive: Bool = false,
        sysroot: String? = nil, assets: String? = nil
    ) {
        self.command = command
        self.answersFile = answersFile
        self.interactive = interactive
        self.sysroot = sysroot
        self.assets = assets
    }

    /// The invocation a state's scope recorded (an empty one when it recorded none).
    public init(_ scope: RunScope) {
        self = (try? scope.invocation?.decode(InstallInvocation.self)) ?? InstallInvocation()
    }
}

/// Answers that passed every check an install makes before it writes anything, with their secrets read.
public struct CheckedAnswers: Sendable {
    public let answers: Answers
    public let secrets: AnswerSecretValues
    /// For plan and status, which refuse nothing: the secrets that could not be read, and why (by key: the
    /// variable or file it names). Empty for answers that passed `check`.
    public let unreadable: [AnswerSecret: String]

    public init(answers: Answers, secrets: AnswerSecretValues, unreadable: [AnswerSecret: String] = [:]) {
        self.answers = answers
        self.secrets = secrets
        self.unreadable = unreadable
    }
}

/// One invocation's view of an installation: where it lives, where steps and assets come from, and how to check
/// answers and run the graph; and the seams a command acts through (its command runner and its output), real by
/// default, swapped by tests. The commands of `sbs` are thin wrappers around it.
public struct InstallSession: Sendable {
    public let layout: Layout
    public let sysroot: String
    public let assets: AssetSnapshot
    /// Runs host commands (nvidia-smi, docker …) for detection and the steps.
    public let commands: any CommandRunner
    /// Where the command's results, messages and progress go.
    public let output: any CommandOutput
    /// The runner given to `init`, kept for `resuming` (nil: the system's, which depends on the sysroot).
    private let givenCommands: (any CommandRunner)?

    /// - Parameters:
    ///   - sysroot: the folder host facts are read under (nil: `/`).
    ///   - assetsDirectory: a folder holding `steps/` and `assets/` (nil: those built into sbs).
    ///   - commands: runs host commands; nil for the system's, which for a sysroot other than `/` looks programs up
    ///     in the fixture tree only.
    ///   - output: where the command writes (the process's standard output and error by default).
    public init(
        layout: Layout, sysroot: String?, assetsDirectory: String?, commands: (any CommandRunner)? = nil,
        output: any CommandOutput = StandardStreams()
    ) {
        self.layout = layout
        self.sysroot = sysroot ?? "/"
        self.assets = AssetSnapshot(
            assetsDirectory.map { DirectoryAssetSource(root: $0) as any AssetSource } ?? BundledAssetSource())
        self.givenCommands = commands
        self.output = output
        if let commands {
            self.commands = commands
        } else if let sysroot, sysroot != "/" {
            // Host commands (nvidia-smi, lspci …) come from the fixture tree only, so a test never reads the real host.
            self.commands = SystemCommandRunner(searchPath: [sysroot + "/usr/bin", sysroot + "/bin"])
        } else {
            self.commands = SystemCommandRunner()
        }
    }

    /// The same installation and seams with another sysroot and assets folder (a resumed run takes the recorded
    /// ones).
    public func with(sysroot: String?, assetsDirectory: String?) -> InstallSession {
        InstallSession(
            layout: layout, sysroot: sysroot, assetsDirectory: assetsDirectory, commands: givenCommands, output: output)
    }

    public var store: StateStore { StateStore(layout: layout) }

    /// The actions for `checked` answers. `createKey` makes the digest key when missing (a run, under its lock);
    /// without it nothing is written (plan, status).
    public func actions(_ checked: CheckedAnswers, createKey: Bool) throws(UserError) -> ActionTable<InstallInputs> {
        let digester = try SecretDigester.load(layout, create: createKey)
        let digests = checked.secrets.byVariable.mapValues { digester.digest($0) }
        var inputs = InstallInputs(
            answers: checked.answers, layout: layout, sysroot: sysroot, assets: assets, secretDigests: digests)
        inputs.unreadableSecrets = Dictionary(
            uniqueKeysWithValues: checked.unreadable.map { ($0.key.variable, "\($0.key.rawValue): \($0.value)") })
        let proxy = OutboundProxy.settings(checked.answers, environment: ProcessInfo.processInfo.environment)
        let commands = OutboundProxy.runner(self.commands, proxy)
        return InstallActions.table(
            inputs,
            tools: InstallTools(
                commands: commands, secrets: checked.secrets, digester: digester,
                pipelines: commands as? any PipelineRunner, proxy: proxy))
    }

    /// The validated step graph.
    public func graph() throws -> Graph {
        try InstallActions.loadGraph(
            assets,
            catalog: try actions(CheckedAnswers(answers: Answers(), secrets: AnswerSecretValues()), createKey: false)
                .catalog)
    }

    public func executor(_ checked: CheckedAnswers, createKey: Bool) throws -> Executor {
        let actions = try actions(checked, createKey: createKey)
        return Executor(
            graph: try InstallActions.loadGraph(assets, catalog: actions.catalog), actions: actions, store: store)
    }

    /// The profile detection recommends for this host (the wizard's default), or nil when it cannot tell.
    public func recommendedProfile() async -> String? {
        let detector = HostDetector(sysroot: Sysroot(sysroot), runner: commands)
        guard let facts = try? await detector.detect(),
            let table = try? ProfileTable(yaml: assets.text("assets/profiles.yaml")),
            let profile = try? table.choose(for: facts, request: ProfileChoiceRequest())
        else { return nil }
        return profile.name.rawValue
    }

    /// Whether `answers` make the stack run monitoring on `host`, as choose-profile will choose (on the reference
    /// host when none was detected); false when no profile can be chosen (the checks say why).
    public func runsMonitoring(_ answers: Answers, host: HostFacts?) -> Bool {
        guard let table = try? ProfileTable(yaml: assets.text("assets/profiles.yaml")) else { return false }
        let request = ProfileChoiceRequest(profile: answers.profile, gpu: answers.gpu, monitoring: answers.monitoring)
        return (try? table.choose(for: host ?? Self.referenceHost, request: request))?.monitoringEnabled ?? false
    }

    /// The answers kept by an earlier run's `collect-answers`, if any.
    /// - Throws: `AnswersError` when that file was damaged.
    public func savedAnswers() throws -> Answers? {
        guard AtomicFile.exists(layout.answersFile) else { return nil }
        return try AnswersFile.load(layout.answersFile)
    }

    /// The stack an earlier install set up: its compose project, when the kept answers name a deploy folder that
    /// holds a compose file; nil otherwise (no install yet, or `sbs cert` used alone).
    public func installedStack() -> ComposeProject? {
        guard let answers = (try? savedAnswers()) ?? nil else { return nil }
        let project = InstallInputs.project(layout: layout, answers: answers)
        return AtomicFile.exists(project.composeFile) ? project : nil
    }

    /// The answer secrets an earlier run kept, by variable (see `AnswerSecretValues.stored`).
    public func storedSecrets(deployDir: String) -> [String: String] {
        AnswerSecretValues.stored(in: layout.secretsFile, deployEnv: layout.resolve(deployDir) + "/.env")
    }

    /// `answers` with every secret an earlier run kept named `stored` (see `AnswerSecretValues.namingStored`).
    public func namingKeptSecretsStored(_ answers: Answers) -> Answers {
        AnswerSecretValues.namingStored(answers, kept: storedSecrets(deployDir: answers.deployDir))
    }

    /// Which of the answers file's own secrets (`secrets.*`) an earlier run kept: the wizard need not ask again.
    public func storedSecretNames(deployDir: String = Answers().deployDir) -> Set<AnswerSecret> {
        let stored = storedSecrets(deployDir: deployDir)
        return Set(AnswerSecret.secretsSection.filter { stored[$0.variable] != nil })
    }

    /// The host this session installs on, as far as the profile choice for `answers` can refuse it: memory (the
    /// smallest profile's floor) always, the GPU only when the answers turn it on (asking the driver takes up to
    /// 10 s, and detect-hardware asks again anyway).
    public func detectHost(for answers: Answers) async throws(UserError) -> HostFacts {
        let detector = HostDetector(sysroot: Sysroot(sysroot), runner: commands)
        let gpu =
            answers.gpu == .on
            ? await detector.detectGPU()
            : GPUFacts(vendor: .none, usable: false, reason: "not read: the answers do not turn the GPU on")
        return HostFacts(
            memory: try detector.detectMemory(), cpu: detector.detectCPU(), gpu: gpu, os: detector.detectOS(),
            architecture: detector.detectArchitecture(), docker: DockerFacts(), disk: nil)
    }

    /// Everything an install refuses is refused here, before anything is written: missing answers, secrets that
    /// cannot be read or break the rules, names or paths the configuration cannot carry, TLS files that do not
    /// fit, a profile or GPU choice the host cannot meet. `sbs answers validate` runs the same.
    /// - Parameters:
    ///   - complete: also refuse missing required answers (an install; `validate --non-interactive`).
    ///   - host: the host to install on (`detectHost(for:)`): the profile is chosen for it as `choose-profile` will
    ///     (`features.gpu: true` without a usable GPU, `profile: auto` below the smallest profile's floor are
    ///     refused). Nil checks only what does not depend on the host (answers for another machine).
    /// - Throws: `UserError` listing every problem.
    public func check(_ answers: Answers, complete: Bool = true, host: HostFacts? = nil) throws(UserError)
        -> CheckedAnswers
    {
        // A root (or a folder of sbs's in it) that another user can change is refused before anything is read in it.
        try layout.checkTrusted()
        var problems: [String] = []
        if let problem = DeployFolder.problem(answers.deployDir, under: layout.root) {
            problems.append(
                "\(answers.origin.at("paths.deploy_dir"))paths.deploy_dir: '\(answers.deployDir)' \(problem); give a folder of its own such as /opt/sbs"
            )
        } else {
            do { try AtomicFile.checkTrusted(folder: layout.resolve(answers.deployDir)) } catch {
                problems.append(error.message)
            }
        }
        let stored = storedSecrets(deployDir: answers.deployDir)
        if complete {
            let missing = answers.missing(storedSecrets: storedSecretNames(deployDir: answers.deployDir))
            if !missing.isEmpty { problems.append("These answers are missing: \(missing.joined(separator: ", ")).") }
        }
        var secrets = AnswerSecretValues()
        do { secrets = try AnswerSecretValues.resolve(answers, stored: stored) } catch {
            problems.append(error.message)
        }
        if let given = secrets[.backupPassword], let current = stored[AnswerSecret.backupPassword.variable],
            given != current, backupsExist(answers)
        {
            problems.append(
                "\(answers.origin.at("backups.password"))backups.password differs from the BACKUP_PASSWORD this installation's backups are encrypted with: with it, no backup made so far could be read. Keep the current one (remove backups.password, or write 'stored'), or first add the new password to the repository (`restic key add`, README: Backups and restore), then give it"
            )
        }
        if answers.backupRepository.kind == .s3 {
            if let id = answers.backupS3AccessKeyID, let key = secrets[.backupS3SecretKey] {
                do { _ = try RepositoryCredentials.checkedS3(accessKeyID: id.value, secretAccessKey: key) } catch {
                    problems.append("\(answers.origin.at("backups.s3"))\(error.message)")
                }
            } else {
                problems.append(
                    "\(answers.origin.at("backups.repository"))the S3 repository \(answers.backupRepository) needs backups.s3 with access_key_id and secret_access_key"
                )
            }
        }
        if answers.smtpHost != nil, answers.smtpPassword == nil {
            problems.append(
                "\(answers.origin.at("smtp"))smtp needs a password (or 'stored', env:NAME, file:/path): the auth service logs in to the relay with it"
            )
        }
        var profile: ResolvedProfile?
        do {
            let table = try ProfileTable(yaml: assets.text("assets/profiles.yaml"))
            if let host {
                // As choose-profile will choose on this host.
                let request = ProfileChoiceRequest(
                    profile: answers.profile, gpu: answers.gpu, monitoring: answers.monitoring)
                do { profile = try table.choose(for: host, request: request) } catch {
                    let key = answers.gpu == .on && !host.gpu.usable ? "features.gpu" : "profile"
                    problems.append("\(answers.origin.at(key))\(key): \(error.message) (\(error.remedy ?? ""))")
                }
            } else {
                profile = try table.choose(
                    for: Self.referenceHost, request: ProfileChoiceRequest(profile: .named(.recommended)))
            }
        } catch {
            problems.append(error.message)
        }
        if !answers.alertEmails.isEmpty || answers.alertWebhook != nil, let profile,
            !profile.monitoringEnabled
        {
            problems.append(
                "\(answers.origin.at("alerts"))alerts: the \(profile.name.rawValue) profile runs no monitoring to send them; turn it on (features.monitoring: true) or leave alerts out"
            )
        }
        if let url = secrets[.alertsWebhook], let problem = Self.webhookProblem(url) {
            problems.append("\(answers.origin.at("alerts.webhook"))alerts.webhook: \(problem)")
        }
        if answers.domain != nil, answers.adminEmail != nil, let profile {
            do { _ = try WriteConfigs.renderInput(answers, layout: layout, profile: profile) } catch {
                problems.append(error.message)
            }
        }
        if answers.tlsMode == .acme, let bundle = answers.acmeCABundle {
            do {
                let text = try AtomicFile.readText(bundle, limit: .caBundle)
                if text?.contains("-----BEGIN CERTIFICATE-----") != true {
                    problems.append(
                        "\(answers.origin.at("tls.acme_ca_bundle"))tls.acme_ca_bundle: \(bundle) \(text == nil ? "does not exist or cannot be read" : "is not a PEM bundle of CA certificates")"
                    )
                }
            } catch {
                problems.append("\(answers.origin.at("tls.acme_ca_bundle"))tls.acme_ca_bundle: \(error.message)")
            }
        }
        if let archive = answers.imagesArchive {
            if AtomicFile.kind(of: archive) != .file || access(archive, R_OK) != 0 {
                problems.append(
                    "\(answers.origin.at("images.archive"))images.archive: \(archive) is not a readable file")
            }
        }
        if answers.tlsMode == .files, let cert = answers.certFile, let key = answers.keyFile {
            if let problem = Self.tlsFilesProblem(
                certificate: cert, key: key, names: answers.certificateNames.map(\.value))
            {
                problems.append("\(answers.origin.at("tls.cert_file"))\(problem)")
            }
        }
        if !problems.isEmpty {
            throw UserError(
                problems.count == 1
                    ? problems[0] : "The answers cannot be installed:\n  - " + problems.joined(separator: "\n  - "),
                remedy:
                    "Fix the answers file (`sbs answers validate FILE` lists every problem), or run without --non-interactive to be asked. Nothing was changed."
            )
        }
        return CheckedAnswers(answers: answers, secrets: secrets)
    }

    /// Why `url` cannot be Alertmanager's webhook, or nil: https (plain http to this server only), and none of
    /// the characters its configuration file could not carry as they are. Never repeats the URL (a credential).
    static func webhookProblem(_ url: String) -> String? {
        let loopback = ["http://localhost:", "http://localhost/", "http://127.0.0.1:", "http://127.0.0.1/"]
        guard url.hasPrefix("https://") || loopback.contains(where: { url.hasPrefix($0) }) else {
            return "the URL must start with https:// (plain http only to this server)"
        }
        guard url.count > "https://".count, !url.contains(where: { $0.isWhitespace || "\"'\\#$".contains($0) })
        else {
            return
                "the URL holds white space, a quote, a backslash, # or $, which Alertmanager's configuration cannot carry as it is"
        }
        return nil
    }

    /// Whether a backup was made under this root (`last-backup.json`), or the answers' repository is a folder here
    /// that restic has set up: then BACKUP_PASSWORD is bound to it.
    func backupsExist(_ answers: Answers) -> Bool {
        if AtomicFile.exists(LastBackup.path(in: layout)) { return true }
        let repository = answers.backupRepository
        return repository.kind == .local && AtomicFile.exists(repository.location(in: layout) + "/config")
    }

    /// The answers as they are, with the secrets that can be read (for `sbs plan` and `sbs status`, which show
    /// what a run would do and refuse nothing).
    public func readable(_ answers: Answers) -> CheckedAnswers {
        let stored = storedSecrets(deployDir: answers.deployDir)
        var values: [AnswerSecret: String] = [:]
        var unreadable: [AnswerSecret: String] = [:]
        for (name, source) in answers.secretSources {
            do { values[name] = try source.resolve(stored: { stored[name.variable] }) } catch {
                unreadable[name] = error.message
            }
        }
        return CheckedAnswers(answers: answers, secrets: AnswerSecretValues(values), unreadable: unreadable)
    }

    /// A host for checking that answers render: the numbers do not matter, only that a profile resolves.
    static let referenceHost = HostFacts(
        memory: MemoryFacts(totalMiB: 16384, cgroupLimitMiB: nil, limitSource: nil),
        cpu: CPUFacts(online: 4, affinity: 4, cgroupQuota: nil),
        gpu: GPUFacts(vendor: .none, usable: false, reason: "none"),
        os: OSFacts(id: "debian", versionID: "12", prettyName: "Debian GNU/Linux 12"), architecture: "x86_64",
        docker: DockerFacts(), disk: nil)

    /// Why the given certificate and key cannot serve `names`, or nil when they can.
    static func tlsFilesProblem(certificate: String, key: String, names: [String]) -> String? {
        do {
            guard let chain = try AtomicFile.readText(certificate, limit: .pem) else {
                return "tls.cert_file \(certificate) does not exist"
            }
            guard let keyText = try AtomicFile.readText(key, limit: .pem) else {
                return "tls.key_file \(key) does not exist"
            }
            guard let leaf = try? CertificateTools.parseChain(chain, what: certificate).first else {
                return "tls.cert_file \(certificate) is not a PEM certificate"
            }
            guard let privateKey = try? Certificate.PrivateKey(pemEncoded: keyText) else {
                return "tls.key_file \(key) is not an unencrypted PEM private key"
            }
            if !CertificateTools.matches(privateKey, leaf) {
                return "tls.key_file \(key) does not belong to \(certificate)"
            }
            let covered = Set(CertificateTools.dnsNames(of: leaf).map { $0.lowercased() })
            let uncovered = names.filter { name in
                !covered.contains(name) && !covered.contains("*" + name.drop(while: { $0 != "." }))
            }
            if !uncovered.isEmpty { return "\(certificate) does not cover \(uncovered.joined(separator: ", "))" }
            if leaf.notValidAfter <= Date() { return "\(certificate) has expired" }
            return nil
        } catch {
            return error.message
        }
    }

    /// Runs the graph for `scope` with `checked` answers, reporting progress through `report`. The caller holds
    /// the run lock (taken before any question is asked).
    /// - Throws: `UserError` when the run cannot start (state unreadable, graph invalid).
    public func run(
        scope: RunScope, checked: CheckedAnswers, runLog: RunLog,
        report: @escaping @Sendable (StepEvent) -> Void
    ) async throws -> RunOutcome {
        let executor = try executor(checked, createKey: true)
        for value in checked.secrets.allValues { runLog.addSecret(value) }
        if let stored = try? SecretsFile(path: layout.secretsFile).load() {
            for value in stored.allValues { runLog.addSecret(value) }
        }
        try executor.validate(scope)
        let invocation = InstallInvocation(scope)
        runLog.write(
            "sbs \(invocation.command): root \(layout.root), answers \(invocation.answersFile ?? "(saved or prompted)"), through \(scope.through ?? "-"), from \(scope.from ?? "-"), skip \(scope.skip.joined(separator: ","))"
        )
        return try await executor.run(scope: scope, baseFacts: checked.answers.facts, runLog: runLog, report: report)
    }
}
