import ACME
import ArgumentParser
import Deploy
import FoundationEssentials
import Installer
import Processes
import SBSCore
import StepGraph
import Wizard

/// `sbs renew`: renews every certificate whose renewal settings sbs keeps (the install's, and each `sbs cert issue`,
/// `--out` folders included) that is due: ARI when the CA offers it (at a moment in the CA's window chosen once
/// per certificate), else at one third of the lifetime left. Exit 0 when nothing was due or all renewals worked: suitable
/// for a timer.
struct RenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew", abstract: "Renew the installed certificates that are due.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Renew even when not due.")
    var force = false

    @Option(
        help: ArgumentHelp(
            "Shell command to run after at least one certificate was renewed (e.g. reload nginx).", valueName: "CMD"))
    var postRenew: String?

    @Flag(help: "No progress lines.")
    var quiet = false

    @OptionGroup var lockWait: LockWaitOption

    func run() async throws {
        let session = global.session
        let output = session.output
        let layout = session.layout
        // A renewal writes the live certificate and reloads the stack's nginx: never while an install or another
        // renewal works on the same installation. Without an installation (no state folder) there is none to
        // protect, and no folder is made for the lock.
        var lock: RunLock?
        if AtomicFile.exists(layout.stateDir) {
            lock = try await RunLock.waiting(
                path: layout.lockFile, atMost: lockWait.duration,
                remedy: "The renewal runs again at its next time; run `sbs renew` by hand once the other run ended.")
        }
        defer { withExtendedLifetime(lock) {} }
        let quiet = self.quiet
        var issuer = CertificateIssuer()
        // The installation's proxy (its answers), else the one this process's environment names.
        let answers = ((try? session.savedAnswers()) ?? nil) ?? Answers()
        issuer.proxy = OutboundProxy.route(
            OutboundProxy.settings(answers, environment: ProcessInfo.processInfo.environment))
        var renewed = 0
        var failed = 0
        // Every certificate whose renewal settings sbs keeps (the install's and each `cert issue`, `--out` folders
        // included), then the live folders that have none (self-signed or provided files), which are named.
        let kept = try RenewalConfig.all(accountDirectory: layout.acmeDir)
        let liveRoot = layout.sslDir + "/live"
        let keptFolders = Set(kept.map(\.liveDirectory))
        let others = ((try? FileManager.default.contentsOfDirectory(atPath: liveRoot)) ?? []).sorted()
            .map { liveRoot + "/" + $0 }
            .filter { !keptFolders.contains($0) && !AtomicFile.baseName(of: $0).hasPrefix(".") }
        if kept.isEmpty && others.isEmpty && !quiet {
            output.err(
                "sbs: no certificates under \(layout.sslDir)/live and no renewal settings in \(layout.acmeDir)/renewal: nothing to renew"
            )
        }
        for config in kept {
            let live = config.liveDirectory
            let name = config.domains.first ?? live
            guard FileManager.default.fileExists(atPath: live + "/cert.pem") else {
                if !quiet {
                    output.err(
                        "sbs: \(name): skipped — \(live) has no certificate any more (remove \(layout.acmeDir)/renewal's entry for it to stop checking)"
                    )
                }
                continue
            }
            do {
                let outcome = try await issuer.renewIfDue(
                    liveDirectory: live, accountDirectory: layout.acmeDir, force: force,
                    progress: { event in if !quiet { output.err("sbs: \(name): \(event)") } })
                switch outcome {
                case .notDue(let decision):
                    if !quiet {
                        output.err("sbs: \(name) (\(live)): not due — \(decision.reason) [\(decision.source.rawValue)]")
                    }
                case .renewed(let decision, let issued):
                    renewed += 1
                    output.err(
                        "sbs: \(name) (\(live)): renewed (\(decision.reason) [\(decision.source.rawValue)]); valid until \(issued.notAfter)"
                    )
                }
            } catch let error as ACMEError {
                failed += 1
                output.err("sbs: \(name) (\(live)): error: \(error.message)\n  → \(error.remedy)")
            }
        }
        for live in others where !quiet {
            output.err(
                "sbs: \(AtomicFile.baseName(of: live)): skipped — not issued over ACME by sbs (self-signed or provided files)"
            )
        }
        // The stack's nginx serves the live folder: it reads the new certificate when reloaded.
        if renewed > 0, let project = session.installedStack() {
            let driver = ComposeDriver(project: project, runner: SystemCommandRunner(), profiles: []) { _ in }
            do {
                if try await driver.reloadNginx() {
                    output.err("sbs: the stack's nginx reloaded with the renewed certificate")
                }
            } catch {
                output.err("sbs: error: \(error.message)\n  → \(error.remedy ?? "")")
                failed += 1
            }
        }
        if renewed > 0, let postRenew {
            // Attached, not captured: a reload may start a daemon that keeps its output open (`service nginx reload`).
            let status = try await SystemCommandRunner().runAttached(["/bin/sh", "-c", postRenew])
            if status != 0 {
                output.err(
                    "sbs: error: the post-renew command exited \(status): \(postRenew)\n  → Fix it and run it by hand; the new certificates are in place."
                )
                throw ExitCode(1)
            }
        }
        if failed > 0 { throw ExitCode(1) }
        do {
            try TextfileMetrics.write(
                [
                    .init(
                        "sbs_renew_last_success_timestamp_seconds",
                        help: "When sbs renew last checked every certificate without an error.",
                        value: Date().timeIntervalSince1970.rounded(.down)),
                    .init(
                        "sbs_renew_certificates_renewed", help: "Certificates the last successful sbs renew renewed.",
                        value: Double(renewed)),
                ], job: "renew", in: layout)
        } catch { output.err("sbs: warning: the renewal's metrics were not written: \(error.message)") }
    }
}
