import ACME
import ArgumentParser
import Foundation
import SBSCore

/// `sbs renew`: renews the certificates under <root>/etc/sbs/ssl/live/ that are due (ARI when the CA offers
/// it, else at one third of the lifetime left). Exit 0 when nothing was due or all renewals worked: suitable
/// for a timer.
struct RenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew", abstract: "Renew the installed certificates that are due.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Renew even when not due.")
    var force = false

    @Option(help: ArgumentHelp("Shell command to run after at least one certificate was renewed (e.g. reload nginx).", valueName: "CMD"))
    var postRenew: String?

    @Flag(help: "No progress lines.")
    var quiet = false

    func run() async throws {
        let layout = global.layout
        let liveRoot = layout.sslDir + "/live"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: liveRoot)) ?? []).sorted()
        let quiet = self.quiet
        let issuer = CertificateIssuer()
        var renewed = 0
        var failed = 0
        for name in names {
            let live = liveRoot + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: live, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            do {
                let outcome = try await issuer.renewIfDue(
                    liveDirectory: live, accountDirectory: layout.acmeDir, force: force,
                    progress: { event in if !quiet { Console.err("sbs: \(name): \(event)") } })
                switch outcome {
                case .notDue(let decision):
                    if !quiet { Console.err("sbs: \(name): not due — \(decision.reason) [\(decision.source.rawValue)]") }
                case .renewed(let decision, let issued):
                    renewed += 1
                    Console.err("sbs: \(name): renewed (\(decision.reason) [\(decision.source.rawValue)]); valid until \(issued.notAfter)")
                }
            } catch let error as ACMEError where error.kind == .local && error.message.hasPrefix("No renewal parameters") {
                if !quiet { Console.err("sbs: \(name): skipped — not issued over ACME by sbs (self-signed or provided files)") }
            } catch let error as ACMEError {
                failed += 1
                Console.err("sbs: \(name): error: \(error.message)\n  → \(error.remedy)")
            }
        }
        if renewed > 0, let postRenew {
            // Attached, not captured: a reload may start a daemon that keeps its output open (`service nginx reload`).
            let status = try await SystemCommandRunner().runAttached(["/bin/sh", "-c", postRenew])
            if status != 0 {
                Console.err("sbs: error: the post-renew command exited \(status): \(postRenew)\n  → Fix it and run it by hand; the new certificates are in place.")
                throw ExitCode(1)
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
