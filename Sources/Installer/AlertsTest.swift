import FoundationEssentials
import Processes
import SBSCore
import Verify
import Wizard

/// `sbs alerts test`: a test alert (`SBSTest`, with a label of its own so that it is a group of its own) posted to the
/// stack's Alertmanager with amtool, inside Alertmanager's container; then Alertmanager's own counters say whether
/// each way to a person (the e-mail relay, the webhook) accepted the notification: a request that succeeded raises
/// `alertmanager_notification_requests_total` without `…_requests_failed_total`. The rendered route sends
/// `SBSTest` at once (group_wait 0s). Last, the test alert is ended, so the person also gets the "resolved" notice.
public struct AlertsTest: Sendable {
    /// Runs argv in Alertmanager's container (`docker compose exec -T alertmanager …`).
    public var exec: @Sendable ([String]) async throws(UserError) -> CommandResult
    /// The integrations the answers configure (`email`, `webhook`), each of which must accept the notification.
    public var integrations: [String]
    /// How long the notifications may take.
    public var deadline: Duration
    public var poll: Duration = .milliseconds(500)
    /// Where Alertmanager listens inside its container.
    public var address = "http://127.0.0.1:9093"

    public init(
        integrations: [String], deadline: Duration = .seconds(60),
        exec: @escaping @Sendable ([String]) async throws(UserError) -> CommandResult
    ) {
        self.integrations = integrations
        self.deadline = deadline
        self.exec = exec
    }

    /// What happened to one integration's notification.
    public struct Outcome: Sendable, Equatable {
        public var integration: String
        /// Requests the relay or the webhook accepted, and refused, since the test alert was posted.
        public var accepted: Int
        public var failed: Int

        public var delivered: Bool { accepted > 0 }
    }

    /// - Returns: an outcome per integration, once each accepted the notification or the deadline passed.
    /// - Throws: `UserError` when Alertmanager cannot be asked or refuses the alert.
    public func run(stamp: String, progress: (String) -> Void) async throws(UserError) -> [Outcome] {
        let before = try await counters()
        let posted = try await exec([
            "amtool", "--alertmanager.url=\(address)", "alert", "add", "alertname=SBSTest", "severity=none",
            "sbs_test=\(stamp)",
            "--annotation=summary=A test alert from `sbs alerts test`: the monitoring reaches this person.",
            "--annotation=description=Nothing is wrong. A resolved notice follows.",
        ])
        guard posted.status == 0 else {
            throw UserError(
                "Alertmanager did not take the test alert: \((posted.stderr + "\n" + posted.stdout).lastLines(2))",
                remedy: "Check that Alertmanager runs and is healthy (`sbs status`, `sbs verify`).")
        }
        progress("the test alert is posted; waiting for \(integrations.joined(separator: " and ")) to accept it")
        let clock = ContinuousClock()
        let end = clock.now + deadline
        var outcomes: [Outcome] = []
        while true {
            let now = try await counters()
            outcomes = integrations.map { name in
                let requests = (now.requests[name] ?? 0) - (before.requests[name] ?? 0)
                let failed = (now.failed[name] ?? 0) - (before.failed[name] ?? 0)
                return Outcome(integration: name, accepted: max(0, Int(requests - failed)), failed: Int(failed))
            }
            if outcomes.allSatisfy(\.delivered) || clock.now >= end { break }
            do { try await Task.sleep(for: poll) } catch { break }
        }
        // Ended now: Alertmanager sends the "resolved" notice with the route's next flush.
        _ = try? await exec([
            "amtool", "--alertmanager.url=\(address)", "alert", "add", "alertname=SBSTest", "severity=none",
            "sbs_test=\(stamp)", "--end=\(Date().formatted(Date.ISO8601FormatStyle(timeZone: .gmt)))",
        ])
        return outcomes
    }

    /// Alertmanager's notification counters by integration (summed over their other labels).
    func counters() async throws(UserError) -> (requests: [String: Double], failed: [String: Double]) {
        let result = try await exec(["wget", "-q", "-O", "-", address + "/metrics"])
        guard result.status == 0 else {
            throw UserError(
                "Alertmanager's metrics could not be read (exit \(result.status)): \(result.stderr.lastLines(1))",
                remedy: "Check that Alertmanager runs and is healthy (`sbs status`, `sbs verify`).")
        }
        return (
            Self.sum("alertmanager_notification_requests_total", in: result.stdout),
            Self.sum("alertmanager_notification_requests_failed_total", in: result.stdout)
        )
    }

    /// The values of `metric` in Prometheus's text format, summed by their `integration` label.
    static func sum(_ metric: String, in text: String) -> [String: Double] {
        var sums: [String: Double] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix(metric + "{") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[1]),
                let start = line.firstRange(of: "integration=\"")
            else { continue }
            let rest = line[start.upperBound...]
            guard let close = rest.firstIndex(of: "\"") else { continue }
            sums[String(rest[..<close]), default: 0] += value
        }
        return sums
    }
}

extension InstallSession {
    /// `sbs alerts test` for the installation under this session's root, and who it reaches (for the command's
    /// first line).
    /// - Throws: `UserError` when nothing is installed, monitoring is off, or the answers name nobody to alert.
    public func alertsTest(deadline: Duration) throws -> (test: AlertsTest, recipients: String) {
        let target = try verifyTarget()
        guard let answers = try savedAnswers(), let project = installedStack() else {
            throw UserError(
                "Nothing was installed under \(layout.root).", remedy: "Run `sbs install` first.")
        }
        guard let profile = target.profile else {
            throw UserError(
                "The install under \(layout.root) has not chosen a profile yet, so it runs no monitoring yet.",
                remedy: "Run `sbs install` (or `sbs resume`) to the end first.")
        }
        guard profile.monitoring else {
            throw UserError(
                "Monitoring is off on this installation: no Alertmanager runs to send a test alert.",
                remedy: "Set features.monitoring: true (and alerts:) in the answers, then run `sbs install`.")
        }
        var integrations: [String] = []
        var recipients: [String] = []
        if !answers.alertEmails.isEmpty {
            integrations.append("email")
            recipients.append("e-mail to \(answers.alertEmails.map(\.value).joined(separator: ", "))")
        }
        if answers.alertWebhook != nil {
            integrations.append("webhook")
            recipients.append("the webhook")
        }
        guard !integrations.isEmpty else {
            throw UserError(
                "The answers name nobody to alert: Alertmanager sends its alerts nowhere.",
                remedy:
                    "Add alerts.email (with smtp:) or alerts.webhook to the answers, run `sbs install`, then `sbs alerts test`."
            )
        }
        let probe = ComposeStackProbe(project: project, runner: commands)
        let test = AlertsTest(integrations: integrations, deadline: deadline) { argv throws(UserError) in
            try await probe.exec("alertmanager", argv)
        }
        return (test, recipients.joined(separator: " and "))
    }
}
