import ArgumentParser
import FoundationEssentials
import Installer
import SBSCore
import Verify

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Check the running stack from this server: redirect, web app, API and auth health, security headers, certificate, database, containers, models, Grafana, monitoring targets, alerting, published ports.",
        discussion: """
            Connects to this server with the domain's name (SNI and Host), so it works behind hairpin NAT and \
            before DNS has spread. The report is kept in /var/lib/sbs/verify.json. Exit status 1 when a check \
            failed (each failure says what to do), 0 when every check passed or did not apply.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the report as JSON: {\"checks\": [{\"id\", \"status\", \"detail\", \"remedy\"}, …]}.")
    var json = false

    func run() async throws {
        let session = global.session
        let target = try session.verifyTarget()
        if !json { session.output.err("Verifying \(target.names.joined(separator: ", ")) on \(target.address) …") }
        let report = try await session.verify(target)
        if json {
            session.output.writeOut(report.json())
        } else {
            session.output.out(report.table())
            session.output.out("Report: \(session.verifyReportPath)")
        }
        if !report.passed { throw ExitCode(1) }
    }
}
