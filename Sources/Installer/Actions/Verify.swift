import Backups
import FoundationEssentials
import Host
import Processes
import SBSCore
import StepGraph
import Verify
import Wizard

/// `verify`: the running stack, checked from this server with the domain's SNI and Host (see `StackVerifier`):
/// the HTTP redirect, the web app and the health endpoints, the security headers (HSTS as the answers ask), the
/// certificate for every name, the TLS protocols, the database, the containers, the profile's models, Grafana, the
/// monitoring's targets and the published ports. The report goes to `/var/lib/sbs/verify.json` (as `sbs verify
/// --json` prints it), each check's result to the metrics folder; any failed check fails the step, each with its
/// remedy. It reads the world, so it runs on every run that covers it.
struct Verify: StepAction {
    static let name = "verify"
    static let observes = true
    let tools: InstallTools

    struct Input: Codable, Hashable, Sendable {
        var target: VerifyTarget
        var reportPath: String
        /// The installation's root: the checks' results go to its metrics folder too (`Verify.keep`).
        var root: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        let profile = try needs.output(of: ChooseProfile.self)
        return Input(
            target: try Verify.target(context.answers, layout: context.layout, profile: profile),
            reportPath: Verify.reportPath(context.layout), root: context.layout.root)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Nothing> {
        let report = try await Verify.verifier(input.target, commands: tools.commands).run()
        try Verify.keep(report, layout: Layout(root: input.root))
        for check in report.checks {
            log.progress("\(check.status.rawValue) \(check.id): \(check.detail)")
        }
        let failures = report.failures
        if !failures.isEmpty { throw Verify.failure(report, reportPath: input.reportPath) }
        return StepResult()
    }

    /// The checks as they run on a server: HTTP over libcurl to `target.address`, Docker through `commands`.
    static func verifier(_ target: VerifyTarget, commands: any CommandRunner) -> StackVerifier {
        StackVerifier(
            target: target, transports: .curl(for: target),
            probe: ComposeStackProbe(project: target.project, runner: commands))
    }

    /// The report kept in `reportPath`, and each check that ran as a metric for node-exporter's textfile collector
    /// (1 passed or warned, 0 failed; skipped ones are left out): the alert rule VerifyFailing reads them.
    static func keep(_ report: VerifyReport, layout: Layout) throws(UserError) {
        try AtomicFile.write(report.json(), to: reportPath(layout))
        let checks = report.checks.filter { $0.status != .skip }.map {
            TextfileMetrics.Sample(
                "sbs_verify_check_passed", help: "Whether the check of the last sbs verify passed (1) or failed (0).",
                labels: [("check", $0.id)], value: $0.status == .fail ? 0 : 1)
        }
        try TextfileMetrics.write(
            checks + [
                .init(
                    "sbs_verify_last_run_timestamp_seconds", help: "When sbs verify last ran.",
                    value: Date().timeIntervalSince1970.rounded(.down))
            ], job: "verify", in: layout)
    }

    /// The report kept by the step and by `sbs verify`.
    static func reportPath(_ layout: Layout) -> String { layout.stateDir + "/verify.json" }

    /// The error for a report with failures: each failed check with what was seen and its remedy.
    static func failure(_ report: VerifyReport, reportPath: String) -> UserError {
        let failures = report.failures
        let lines = failures.map { "  - \($0.id): \($0.detail)\n    → \($0.remedy ?? "")" }
        return UserError(
            "\(failures.count) of \(report.checks.count) verification checks failed:\n" + lines.joined(separator: "\n"),
            remedy:
                "Do what each check says, then `sbs verify` to check again. The report is in \(reportPath)."
        )
    }

    /// What to verify for these answers: the names and ports they give, the trust their TLS mode implies, the
    /// stack's compose project, and what `profile` runs (nil: not chosen yet).
    /// - Throws: `UserError` when the answers give no domain.
    static func target(_ answers: Answers, layout: Layout, profile: ResolvedProfile?) throws(UserError) -> VerifyTarget
    {
        guard let domain = answers.domain?.value else {
            throw UserError(
                "The answers give no domain to verify.", remedy: "Add `domain` to the answers and run `sbs install`.")
        }
        let trust: VerifyTarget.Trust
        if answers.tlsMode == .selfSigned {
            trust = .installedCertificate(layout.sslDir + "/live/" + domain + "/fullchain.pem")
        } else if let bundle = answers.acmeCABundle {
            trust = .bundle(bundle)
        } else {
            trust = .system
        }
        let expectation = profile.map {
            VerifyTarget.ProfileExpectation(
                ollamaModels: $0.runsOllama ? $0.ollamaModels : nil, monitoring: $0.monitoringEnabled,
                grafana: $0.runsGrafana)
        }
        // Backups are due from when the installation's secrets were made (secrets.env is written again only when
        // a secret changes).
        let backup =
            answers.backups == .off
            ? nil
            : BackupExpectation(
                lastBackupFile: LastBackup.path(in: layout),
                since: (try? FileManager.default.attributesOfItem(atPath: layout.secretsFile))?[.modificationDate]
                    as? Date)
        var target = VerifyTarget(
            domain: domain, names: answers.certificateNames.map(\.value), httpPort: answers.httpPort.value,
            httpsPort: answers.httpsPort.value, hsts: answers.mode == .production ? answers.hsts : nil, trust: trust,
            project: InstallInputs.project(layout: layout, answers: answers), profile: expectation,
            backup: backup)
        target.alertIntegrations =
            (answers.alertEmails.isEmpty ? [] : ["email"]) + (answers.alertWebhook == nil ? [] : ["webhook"])
        return target
    }
}

extension InstallSession {
    /// What `sbs verify` checks: the kept answers and the profile the last install chose.
    /// - Throws: `UserError` when nothing was installed under the root (no kept answers), or they give no domain.
    public func verifyTarget() throws -> VerifyTarget {
        guard let answers = try savedAnswers() else {
            throw UserError(
                "Nothing was installed under \(layout.root) (\(layout.answersFile) does not exist).",
                remedy: "Run `sbs install` first.")
        }
        var profile: ResolvedProfile?
        if let state = try store.load(), state["choose-profile"].status == .succeeded {
            profile = try? state["choose-profile"].output?.decode(ResolvedProfile.self)
        }
        return try Verify.target(answers, layout: layout, profile: profile)
    }

    /// Runs every check against this server and keeps the report in `/var/lib/sbs/verify.json`.
    /// - Throws: `UserError` when the report cannot be written; `CancellationError` when interrupted.
    public func verify(_ target: VerifyTarget) async throws -> VerifyReport {
        let report = try await Verify.verifier(target, commands: commands).run()
        try Verify.keep(report, layout: layout)
        return report
    }

    /// Where the last verification report is kept.
    public var verifyReportPath: String { Verify.reportPath(layout) }
}
