import Deploy
import FoundationEssentials
import Host
import Render
import SBSCore
import StepGraph
import Verify
import Wizard

/// What `sbs install` and `sbs resume` print when the whole graph has run: where the server answers, what was
/// verified, where the credentials are kept and how to read one (`sbs secrets show NAME`, root only), and the
/// timers. It names secrets, never shows a value: it reads only the names in `secrets.env`.
public struct InstallSummary: Sendable, Equatable {
    public var url: String
    /// One line on verification: the counts, or that it has not run.
    public var verification: String
    public var secretsFile: String
    public var deployEnv: String?
    /// The names of the kept secrets, sorted; nil when the file could not be read.
    public var secretNames: [String]?
    public var timers: String
    /// Where `sbs backup` keeps its backups; nil when backups are off.
    public var backupRepository: String?
    /// ` --root ROOT` when the root is not `/`, for the commands shown.
    public var rootFlag: String

    /// Whether a run of `scope` covers every step of `graph` (no `--through` that leaves steps out).
    public static func coversWholeGraph(_ scope: RunScope, graph: Graph) -> Bool {
        guard let through = scope.through else { return true }
        return graph.closure(of: through).isSuperset(of: graph.ids)
    }

    /// The summary of the install under `layout` with `answers`, from `state` and the files the install kept.
    public init(layout: Layout, answers: Answers, state: RunState) {
        let domain = answers.domain?.value ?? "(no domain)"
        url = "https://" + domain + (answers.httpsPort.value == 443 ? "" : ":\(answers.httpsPort.value)")
        verification = Self.verification(at: layout.stateDir + "/verify.json", record: state.steps["verify"])
        secretsFile = layout.secretsFile
        // A swarm stack has no .env: its secrets are Docker secrets.
        deployEnv =
            answers.target == .swarm
            ? nil
            : layout.resolve(answers.deployDir.hasPrefix("/") ? answers.deployDir : "/" + answers.deployDir) + "/.env"
        secretNames = Self.secretNames(in: layout.secretsFile)
        timers = Self.timers(state.steps[InstallTimers.name])
        rootFlag = layout.root == "/" ? "" : " --root \(layout.root)"
        backupRepository = answers.backups == .off ? nil : answers.backupRepository.location(in: layout)
    }

    public var lines: [String] {
        var lines = [
            "", "Your Small Business Server is installed: \(url)", "Verified: \(verification)",
            "Credentials: \(secretsFile) (0600, root only)"
                + (deployEnv.map { " and \($0)" } ?? " and the swarm's Docker secrets made from it"),
        ]
        if let names = secretNames, !names.isEmpty {
            lines.append("  kept: \(names.joined(separator: ", "))")
            let example = names.contains("GRAFANA_ADMIN_PASSWORD") ? "GRAFANA_ADMIN_PASSWORD" : names[0]
            lines.append(
                "  read one with `sudo sbs secrets show NAME\(rootFlag)` (root only), e.g. `sbs secrets show \(example)\(rootFlag)`"
            )
        } else {
            lines.append("  list them with `sudo sbs secrets show\(rootFlag)` (root only)")
        }
        lines.append("Timers: \(timers)")
        if let backupRepository {
            lines.append(
                "Backups: `sbs backup\(rootFlag)` stores encrypted backups in \(backupRepository). Keep a copy of BACKUP_PASSWORD away from this server (`sbs secrets show BACKUP_PASSWORD\(rootFlag)`): without it no backup can be read."
            )
        }
        return lines
    }

    /// The counts of `verify.json` (`{"checks": [{"id", "status", …}]}`), naming the checks that failed.
    static func verification(at path: String, record: StepRecord?) -> String {
        guard let json = (try? AtomicFile.readText(path, limit: .state)) ?? nil else {
            let status = record?.status == .skipped ? " (the verify step was skipped)" : ""
            return "verification has not run yet\(status); run `sbs verify` to check the stack."
        }
        guard let report = try? VerifyReport.decode(json) else {
            return "\(path) cannot be read; run `sbs verify` again."
        }
        let failed = report.failures.map(\.id)
        let passed = report.checks.filter { $0.status == .pass }.count
        let skipped = report.checks.filter { $0.status == .skip }.count
        var text =
            "\(passed) check\(passed == 1 ? "" : "s") passed, \(failed.count) failed"
            + (failed.isEmpty ? "" : " (\(failed.joined(separator: ", ")))") + ", \(skipped) skipped"
        text += failed.isEmpty ? "." : "; `sbs verify` shows what to do."
        return text
    }

    /// The names in `secrets.env` (`NAME=value` lines), read without keeping any value.
    static func secretNames(in path: String) -> [String]? {
        guard let text = try? AtomicFile.readText(path, limit: .state) else { return nil }
        return text.split(separator: "\n").compactMap { line -> String? in
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return nil }
            let name = String(line[..<equals])
            return (try? Render.SecretName(name))?.value
        }.sorted()
    }

    static func timers(_ record: StepRecord?) -> String {
        guard let record, record.status == .succeeded,
            let output = try? record.output?.decode(InstallTimers.Output.self)
        else {
            return
                "not installed (install-timers \(record?.status == .skipped ? "was skipped" : "did not run")); certificates are renewed only by `sbs renew`."
        }
        let names = output.timers.joined(separator: ", ")
        return output.enabled
            ? "\(names) (enabled)"
            : "\(names) written to \(output.unitDirectory), not enabled (systemd does not manage them here)."
    }
}
