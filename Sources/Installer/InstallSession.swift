import Foundation
import Host
import Render
import SBSCore
import StepGraph
import Wizard

/// One invocation's view of an installation: where it lives, where steps and assets come from, and how to run
/// the graph. The commands of `sbs` are thin wrappers around it.
public struct InstallSession: Sendable {
    public let layout: Layout
    public let sysroot: String
    public let assets: any AssetSource
    public let commands: any CommandRunner

    public init(layout: Layout, sysroot: String?, assetsDirectory: String?) {
        self.layout = layout
        self.sysroot = sysroot ?? "/"
        self.assets = assetsDirectory.map { DirectoryAssetSource(root: $0) as any AssetSource } ?? BundledAssetSource()
        if let sysroot, sysroot != "/" {
            // Host commands (nvidia-smi, lspci …) come from the fixture tree only, so a test never reads the real host.
            commands = SystemCommandRunner(searchPath: [sysroot + "/usr/bin", sysroot + "/bin"])
        } else {
            commands = SystemCommandRunner()
        }
    }

    public func context(answers: Answers) -> InstallContext {
        InstallContext(layout: layout, sysroot: sysroot, assets: assets, commands: commands, answers: answers)
    }

    public func actions(answers: Answers) -> InstallActions {
        InstallActions(context: context(answers: answers))
    }

    /// The validated step graph.
    public func graph() throws -> Graph {
        try actions(answers: Answers()).loadGraph()
    }

    public var store: StateStore { StateStore(layout: layout) }

    /// The profile detection recommends for this host (the wizard's default), or nil when it cannot tell.
    public func recommendedProfile() async -> String? {
        let detector = HostDetector(sysroot: Sysroot(sysroot), runner: commands)
        guard let facts = try? await detector.detect(),
              let table = try? ProfileTable(yaml: assets.text("assets/profiles.yaml")),
              let profile = try? table.choose(for: facts, request: ProfileChoiceRequest()) else { return nil }
        return profile.name.rawValue
    }

    /// The answers kept by an earlier run's `collect-answers`, if any.
    /// - Throws: `AnswersError` when that file was damaged.
    public func savedAnswers() throws -> Answers? {
        guard AtomicFile.exists(layout.answersFile) else { return nil }
        return try AnswersFile.load(layout.answersFile)
    }

    /// Runs the graph for `scope` with `answers`, reporting progress through `report`.
    /// - Throws: `UserError` when the run cannot start (lock held, state unreadable, graph invalid).
    public func run(scope: RunScope, answers: Answers, runLog: RunLog,
                    report: @escaping @Sendable (StepEvent) -> Void) async throws -> RunOutcome {
        let actions = self.actions(answers: answers)
        let graph = try actions.loadGraph()
        for (_, value) in (try? answerSecretValues(answers, environment: ProcessInfo.processInfo.environment)) ?? [] {
            runLog.addSecret(value)
        }
        if let stored = try? SecretsFile(path: layout.secretsFile).load() {
            for value in stored.allValues { runLog.addSecret(value) }
        }
        let executor = Executor(graph: graph, actions: actions, store: store)
        try executor.validate(scope)
        let lock = try RunLock(path: layout.lockFile)
        defer { withExtendedLifetime(lock) {} }
        runLog.write("sbs \(scope.command): root \(layout.root), answers \(scope.answersFile ?? "(saved or prompted)"), through \(scope.through ?? "-"), from \(scope.from ?? "-"), skip \(scope.skip.joined(separator: ","))")
        return try await executor.run(scope: scope, baseFacts: answers.facts, runLog: runLog, report: report)
    }
}
