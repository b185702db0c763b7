import Deploy
import FoundationEssentials
import HTTPClient
import Processes
import Render
import SBSCore
import StepGraph
import Wizard

/// What every step's Input is built from: values read once before any step runs, so building an Input does no
/// I/O (see `StepAction`).
public struct InstallInputs: Sendable {
    public var answers: Answers
    public var layout: Layout
    /// Host facts are read under this folder (`/` on a real install, a fixture tree in tests).
    public var sysroot: String
    /// `steps/` and `assets/` as they were when the run started.
    public var assets: AssetSnapshot
    /// Keyed digests of the answers' secrets, by the variable they are kept under.
    public var secretDigests: [String: KeyedDigest]
    /// The answers' secrets that could not be read (plan and status only: a run refuses them first), by variable:
    /// why, naming the key and the variable or file. A step whose Input holds one has no Input yet.
    public var unreadableSecrets: [String: String] = [:]
    /// The sbs binary the installed timers run (the running one, `InstallInputs.runningExecutable`).
    public var executable: String

    public init(
        answers: Answers, layout: Layout, sysroot: String, assets: AssetSnapshot,
        secretDigests: [String: KeyedDigest], executable: String = InstallInputs.runningExecutable
    ) {
        self.executable = executable
        self.answers = answers
        self.layout = layout
        self.sysroot = sysroot
        self.assets = assets
        self.secretDigests = secretDigests
    }

    /// Every answer secret's digest, by variable.
    /// - Throws: `UserError` naming each secret that could not be read (its Input is not known).
    public func answerSecretDigests() throws(UserError) -> [String: KeyedDigest] {
        if !unreadableSecrets.isEmpty {
            throw UserError(unreadableSecrets.sorted { $0.key < $1.key }.map(\.value).joined(separator: "; "))
        }
        return secretDigests
    }

    /// The digest of one answer secret, nil when the answers do not give it.
    /// - Throws: `UserError` naming it when it could not be read.
    public func secretDigest(_ secret: AnswerSecret) throws(UserError) -> KeyedDigest? {
        if let problem = unreadableSecrets[secret.variable] { throw UserError(problem) }
        return secretDigests[secret.variable]
    }

    /// The deploy folder under the root.
    public var deployDir: String { layout.resolve(answers.deployDir) }

    /// The stack's compose project (`sbs` on a real install; see `ComposeProject.name(forRoot:)`).
    public var project: ComposeProject { Self.project(layout: layout, answers: answers) }

    /// The compose project (or swarm stack) of an install under `layout` with these answers (the deploy folder, the
    /// target); nil answers: the defaults.
    public static func project(layout: Layout, answers: Answers?) -> ComposeProject {
        let answers = answers ?? Answers()
        return ComposeProject(
            name: ComposeProject.name(forRoot: layout.root), directory: layout.resolve(answers.deployDir),
            target: answers.target)
    }
}

/// What actions use to act (never to decide whether to run): processes, the answers' secret values, the key for
/// digests. The real ones in an install, small ones in tests.
public struct InstallTools: Sendable {
    public var commands: any CommandRunner
    public var secrets: AnswerSecretValues
    public var digester: SecretDigester
    /// Connects two programs (restic into the database); nil where `commands` cannot (a test's scripted runner):
    /// a step that needs it then fails.
    public var pipelines: (any PipelineRunner)?
    /// The office's proxy to the internet (`OutboundProxy`), nil for none. It is where this run's requests go, not
    /// part of what a step is planned with: the environment of one run may name one and the next not.
    public var proxy: ProxySettings?

    public init(
        commands: any CommandRunner, secrets: AnswerSecretValues, digester: SecretDigester,
        pipelines: (any PipelineRunner)? = nil, proxy: ProxySettings? = nil
    ) {
        self.proxy = proxy
        self.commands = commands
        self.secrets = secrets
        self.digester = digester
        self.pipelines = pipelines
    }
}

extension InstallTools {
    /// The answers' secret values for the digests an Input holds, checked against them: a step acts on exactly
    /// the secrets it was fingerprinted with.
    /// - Throws: `UserError` when a value is missing or differs (a defect, not a user's mistake).
    func verifiedSecrets(_ digests: [String: KeyedDigest]) throws(UserError) -> [Render.SecretName: String] {
        var values: [Render.SecretName: String] = [:]
        for (variable, digest) in digests {
            guard let value = secrets.byVariable[variable], digester.digest(value) == digest else {
                throw UserError("Internal error: the value of \(variable) is not the one this step was planned with.")
            }
            values[try Render.SecretName(variable)] = value
        }
        return values
    }
}

/// The actions of the install, by name: the link from `steps/*.yaml` (`action:`) to code in `Actions/`.
public enum InstallActions {
    public static func table(_ inputs: InstallInputs, tools: InstallTools) -> ActionTable<InstallInputs> {
        var table = ActionTable(
            context: inputs, baseFacts: Set(Answers().facts.keys),
            digester: { [digester = tools.digester] in digester.product($0) })
        table.register(Preflight(tools: tools))
        table.register(DetectHardware(tools: tools))
        table.register(CollectAnswers(tools: tools))
        table.register(ChooseProfile())
        table.register(CheckDNS())
        table.register(GenerateSecrets(tools: tools))
        table.register(WriteConfigs())
        table.register(ObtainCertificate(tools: tools))
        table.register(EnsureDocker(tools: tools))
        table.register(EnsureRestic(tools: tools))
        table.register(ConfigureFirewall(tools: tools))
        table.register(RestoreDatabase(tools: tools))
        table.register(StartProxy(tools: tools))
        table.register(StartStack(tools: tools))
        table.register(PullModels(tools: tools))
        table.register(InstallTimers(tools: tools))
        table.register(Verify(tools: tools))
        return table
    }

    /// Loads and validates the step graph against the actions' declarations.
    /// - Throws: `GraphError` with every problem, each with file and line.
    public static func loadGraph(_ assets: AssetSnapshot, catalog: ActionCatalog) throws -> Graph {
        let files = assets.files(under: "steps/").filter { $0.key.hasSuffix(".yaml") }
        if files.isEmpty {
            throw UserError(
                "No step files were found.", remedy: "Reinstall sbs, or check the folder given with --assets.")
        }
        return try StepLoader.load(files, catalog: catalog)
    }
}

/// `steps/` and `assets/` read once, as text.
public struct AssetSnapshot: Sendable, Equatable {
    public let files: [String: String]

    public init(_ source: any AssetSource) {
        var files: [String: String] = [:]
        for folder in ["steps/", "assets/"] {
            for path in source.paths(under: folder) {
                files[path] = source.file(path).map { String(decoding: $0, as: UTF8.self) }
            }
        }
        self.files = files
    }

    public init(files: [String: String]) {
        self.files = files
    }

    /// The file's text.
    /// - Throws: `UserError` naming the missing file.
    public func text(_ path: String) throws(UserError) -> String {
        guard let text = files[path] else {
            throw UserError(
                "The asset \(path) is missing.", remedy: "Reinstall sbs, or check the folder given with --assets.")
        }
        return text
    }

    public func files(under folder: String) -> [String: String] {
        files.filter { $0.key.hasPrefix(folder) }
    }
}
