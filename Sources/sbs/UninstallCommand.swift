import ArgumentParser
import FoundationEssentials
import Glibc
import Installer
import SBSCore
import StepGraph
import Wizard

/// `sbs uninstall [--purge]`.
struct UninstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uninstall",
        abstract: "Remove the stack's containers and networks and sbs's timers; keep the data unless --purge.",
        discussion: """
            Kept without --purge: the database volume, /etc/sbs (answers, secrets, certificates), /var/lib/sbs and \
            the deploy folder, so `sbs install` brings the stack back as it was. --purge removes them too, after the \
            domain is typed as confirmation. The backup repository is never removed.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Also remove the volumes (the database), /etc/sbs, /var/lib/sbs, /var/log/sbs and the deploy folder.")
    var purge = false

    @Option(
        help: ArgumentHelp(
            "With --purge: the installation's domain, as the confirmation that would be typed (for scripts).",
            valueName: "DOMAIN"))
    var confirm: String?

    func run() async throws {
        let session = global.session
        guard geteuid() == 0 else {
            throw UserError(
                "Uninstalling removes containers and sbs's files, which needs root.", remedy: "Run it with sudo.")
        }
        let lock = try RunLock(path: session.layout.lockFile, remedy: RunLock.rerunRemedy("sbs uninstall"))
        defer { withExtendedLifetime(lock) {} }
        let uninstall = Installer.Uninstall(session: session, purge: purge)
        let target = try uninstall.target()
        if purge {
            try DomainConfirmation(
                domain: target.domain, given: confirm,
                warning:
                    "--purge removes the database of \(target.domain), its secrets and certificates (the backups stay)."
            )
            .check()
        }
        for line in try await uninstall.run(target) { session.output.out(line) }
    }
}
