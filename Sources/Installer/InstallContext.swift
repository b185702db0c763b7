import Crypto
import Foundation
import SBSCore
import StepGraph
import Wizard

/// What every step action can reach: where to write, what was answered, and the I/O seams.
public struct InstallContext: Sendable {
    public var layout: Layout
    /// Host facts are read under this folder (`/` on a real install, a fixture tree in tests).
    public var sysroot: String
    public var assets: any AssetSource
    public var commands: any CommandRunner
    public var answers: Answers
    /// The environment `env:NAME` secrets are read from.
    public var environment: [String: String]

    public init(layout: Layout, sysroot: String = "/", assets: any AssetSource, commands: any CommandRunner,
                answers: Answers, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.layout = layout
        self.sysroot = sysroot
        self.assets = assets
        self.commands = commands
        self.answers = answers
        self.environment = environment
    }

    /// A keyed hash of a secret for fingerprints: a changed secret re-runs what uses it, and state.json learns
    /// nothing about its value. The key lives beside the state (0600), made on first use.
    public func secretDigest(_ value: String) throws(UserError) -> String {
        let keyPath = layout.stateDir + "/fingerprint.key"
        var key = try AtomicFile.read(keyPath)
        if key == nil || key?.count != 32 {
            var bytes = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for index in bytes.indices { bytes[index] = generator.next() }
            try AtomicFile.write(bytes, to: keyPath, mode: 0o600)
            key = bytes
        }
        let mac = HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: SymmetricKey(data: key ?? []))
        return "hmac:" + mac.map { String(format: "%02x", $0) }.joined()
    }
}

/// The code behind one `action:` name. Each lives in `Actions/` under the name of its step.
protocol InstallAction: Sendable {
    /// The inputs that decide whether the step must run again (see `StepActions.inputs`).
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String]
    /// Does the step; returns facts for dependents (no secrets).
    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String]
}

/// An action whose code this version of sbs does not have: running it fails loudly, it never pretends.
struct NotBuiltAction: InstallAction {
    let name: String

    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] { [:] }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        throw UserError("The step action '\(name)' is not part of this version of sbs yet.",
                        remedy: "Run the steps before it with `--through`, or `--skip \(name)` if you do this part by hand.")
    }
}

/// All actions of the install, by name: the link from `steps/*.yaml` to code.
public struct InstallActions: StepActions {
    public let context: InstallContext
    let table: [String: any InstallAction]

    public init(context: InstallContext) {
        self.context = context
        var table: [String: any InstallAction] = [
            "preflight": PreflightAction(),
            "detect-hardware": DetectHardware(),
            "collect-answers": CollectAnswers(),
            "choose-profile": ChooseProfile(),
            "check-dns": CheckDNS(),
            "generate-secrets": GenerateSecrets(),
            "write-configs": WriteConfigs(),
            "obtain-certificate": ObtainCertificate(),
        ]
        for name in ["preflight", "detect-hardware", "choose-profile", "check-dns", "generate-secrets", "write-configs",
                     "ensure-docker", "start-proxy", "obtain-certificate", "start-stack", "pull-models", "verify",
                     "install-timers"] where table[name] == nil {
            table[name] = NotBuiltAction(name: name)
        }
        self.table = table
    }

    public var known: Set<String> { Set(table.keys) }

    public func inputs(of step: StepDefinition, facts: [String: String]) throws -> [String: String] {
        guard let action = table[step.action] else { throw UserError("unknown action \(step.action)") }
        return try action.inputs(context, facts: facts)
    }

    public func run(_ step: StepDefinition, facts: [String: String], log: StepLog) async throws -> [String: String] {
        guard let action = table[step.action] else { throw UserError("unknown action \(step.action)") }
        return try await action.run(context, facts: facts, log: log)
    }

    /// Loads and validates the step graph from the asset source.
    /// - Throws: `GraphError` with every problem, each with file and line.
    public func loadGraph() throws -> Graph {
        var files: [String: String] = [:]
        for path in context.assets.paths(under: "steps/") where path.hasSuffix(".yaml") {
            files[path] = try context.assets.text(path)
        }
        if files.isEmpty {
            throw UserError("No step files were found.", remedy: "Reinstall sbs, or check the folder given with --assets.")
        }
        return try StepLoader.load(files, knownActions: known)
    }
}
