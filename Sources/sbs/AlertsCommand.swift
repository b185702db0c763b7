import ArgumentParser
import FoundationEssentials
import Installer
import SBSCore

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Check that the monitoring's alerts reach a person.",
        subcommands: [Test.self],
        defaultSubcommand: Test.self
    )

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test alert through Alertmanager to every receiver the answers give (e-mail, webhook).",
            discussion: """
                Posts the alert SBSTest to the stack's Alertmanager and waits until the mail relay and the webhook \
                each accept its notification (Alertmanager's own counters say so), then ends it: the person also \
                gets the "resolved" notice a minute later. Exit status 1 when a receiver did not accept it in time.
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("How many seconds the receivers may take (1-600).", valueName: "SECONDS"))
        var timeout: Int = 60

        func validate() throws {
            guard (1...600).contains(timeout) else { throw ValidationError("--timeout must be 1 to 600 seconds.") }
        }

        func run() async throws {
            let session = global.session
            let (test, recipients) = try session.alertsTest(deadline: .seconds(timeout))
            session.output.err("Sending a test alert through Alertmanager to \(recipients) …")
            let outcomes = try await test.run(stamp: RunStamp.make()) { session.output.err("  " + $0) }
            for outcome in outcomes {
                let refused = outcome.failed > 0 ? ", \(outcome.failed) refused" : ""
                session.output.out(
                    outcome.delivered
                        ? "\(outcome.integration): accepted\(refused)"
                        : "\(outcome.integration): NOT accepted within \(timeout) s\(refused)")
            }
            let missing = outcomes.filter { !$0.delivered }.map(\.integration)
            guard missing.isEmpty else {
                throw UserError(
                    "The test alert did not reach \(missing.joined(separator: " and ")).",
                    remedy:
                        "Alertmanager's log says why: `docker compose logs --tail 50 alertmanager` in the deploy folder (the relay's answer, a refused login, a webhook's status). Check smtp: and alerts: in the answers, run `sbs install`, then `sbs alerts test` again."
                )
            }
            session.output.out("Every receiver accepted the test alert; a resolved notice follows within a minute.")
        }
    }
}
