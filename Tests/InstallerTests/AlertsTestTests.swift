import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

@testable import Installer

/// `sbs alerts test`'s core against a real Alertmanager (Debian's prometheus-alertmanager) on loopback, whose relay is
/// scripts/test/smtp-sink.py (STARTTLS, a login) and whose webhook is a local HTTP server: the commands it would run
/// in Alertmanager's container (amtool, wget) run on this host against that Alertmanager.
@Suite(.serialized) struct AlertsTestTests {
    static var toolsInstalled: Bool {
        ["/usr/bin/prometheus-alertmanager", "/usr/bin/amtool", "/usr/bin/wget", "/usr/bin/openssl"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// A relay that takes `relayPassword`, a webhook, and an Alertmanager whose relay login is `givenPassword`, with
    /// the route `sbs alerts test` relies on (as the rendered configuration has it: SBSTest at once, on its own).
    func withAlertmanager(
        relayPassword: String, givenPassword: String,
        _ body: (AlertsTest, MailRelay, ScriptedHTTPServer) async throws -> Void
    ) async throws {
        let dir = try Scratch.folder("alerts-test")
        let relay = try MailRelay(folder: dir, user: "alerts@example.com", password: relayPassword)
        defer { relay.stop() }
        try await waitForListener(relay.port)
        let hook = try ScriptedHTTPServer(["POST /hook": .json("{}")])
        defer { hook.stop() }
        try givenPassword.write(toFile: dir + "/smtp_password", atomically: true, encoding: .utf8)
        try """
        global:
          smtp_smarthost: "localhost:\(relay.port)"
          smtp_from: "sbs@example.com"
          smtp_auth_username: "alerts@example.com"
          smtp_auth_password_file: \(dir)/smtp_password
          smtp_require_tls: true
        route:
          receiver: person
          group_wait: 30s
          routes:
            - matchers: ['alertname="SBSTest"']
              receiver: person
              group_by: [alertname, sbs_test]
              group_wait: 0s
              group_interval: 1m
        receivers:
          - name: person
            email_configs:
              - to: "owner@example.com"
                send_resolved: true
            webhook_configs:
              - url: "http://127.0.0.1:\(hook.port)/hook"
                send_resolved: true
        """.write(toFile: dir + "/alertmanager.yml", atomically: true, encoding: .utf8)
        let alertmanager = try LocalAlertmanager(
            configFile: dir + "/alertmanager.yml", storage: dir + "/data", trusting: relay.certificate)
        defer { alertmanager.stop() }
        let runner = SystemCommandRunner()
        var test = AlertsTest(integrations: ["email", "webhook"], deadline: .seconds(15)) { argv throws(UserError) in
            try await runner.run(argv, timeout: .seconds(20))
        }
        test.address = alertmanager.url
        for _ in 0..<100 {
            let ready = try await runner.run(
                ["wget", "-q", "-O", "/dev/null", alertmanager.url + "/-/ready"], timeout: .seconds(5))
            if ready.status == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await body(test, relay, hook)
    }

    @Test(
        .requires(
            "Alertmanager, amtool, wget or openssl is missing (apt-get install -y prometheus-alertmanager wget openssl)",
            when: toolsInstalled),
        .timeLimit(.minutes(3)))
    func bothReceiversAcceptTheTestAlertAndItIsEndedAfterwards() async throws {
        try await withAlertmanager(relayPassword: "right # $ password", givenPassword: "right # $ password") {
            test, relay, hook in
            var lines: [String] = []
            let outcomes = try await test.run(stamp: "20261206T120000Z") { lines.append($0) }
            #expect(outcomes.map(\.integration) == ["email", "webhook"])
            #expect(outcomes.allSatisfy { $0.delivered && $0.failed == 0 }, "\(outcomes)")
            #expect(lines == ["the test alert is posted; waiting for email and webhook to accept it"])
            let mails = relay.mails
            #expect(mails.count == 1, "\(mails)")
            let mail = try relay.text(of: mails.first ?? "none")
            #expect(mail.contains("Subject: [FIRING:1] SBSTest 20261206T120000Z (none)"), "\(mail.prefix(600))")
            #expect(mail.contains("X-Sink-Login: alerts@example.com") && mail.contains("X-Sink-TLS: yes"))
            let posts = hook.received
            #expect(posts.count == 1 && posts.first?.body.contains("\"sbs_test\":\"20261206T120000Z\"") == true)
            // Ended: Alertmanager no longer counts it as active.
            let active = try await test.exec(["wget", "-q", "-O", "-", test.address + "/api/v2/alerts?active=true"])
            #expect(active.status == 0 && !active.stdout.contains("SBSTest"), "\(active.stdout)")
        }
    }

    @Test(
        .requires(
            "Alertmanager, amtool, wget or openssl is missing (apt-get install -y prometheus-alertmanager wget openssl)",
            when: toolsInstalled),
        // A guard against a hang, not a speed target: a real Alertmanager starts here, slowly on a loaded host.
        .timeLimit(.minutes(3)))
    func aRelayThatRefusesTheLoginIsReportedAndTheWebhookStillCounts() async throws {
        try await withAlertmanager(relayPassword: "the relay's", givenPassword: "a wrong one") { test, relay, _ in
            var short = test
            short.deadline = .seconds(8)
            let outcomes = try await short.run(stamp: "20261206T120001Z") { _ in }
            let email = try #require(outcomes.first { $0.integration == "email" })
            let webhook = try #require(outcomes.first { $0.integration == "webhook" })
            #expect(!email.delivered && email.failed > 0, "\(email)")
            #expect(webhook.delivered, "\(webhook)")
            #expect(relay.mails.isEmpty, "\(relay.mails)")
        }
    }

    @Test func countersAreSummedByIntegrationOverTheirOtherLabels() {
        let text = """
            # HELP alertmanager_notification_requests_total The total number of attempted notification requests.
            alertmanager_notification_requests_total{integration="email"} 3
            alertmanager_notification_requests_total{integration="webhook"} 1
            alertmanager_notification_requests_failed_total{integration="email",reason="other"} 1
            alertmanager_notification_requests_failed_total{integration="email",reason="clientError"} 1
            alertmanager_notification_requests_total_other{integration="email"} 9
            """
        #expect(AlertsTest.sum("alertmanager_notification_requests_total", in: text) == ["email": 3, "webhook": 1])
        #expect(AlertsTest.sum("alertmanager_notification_requests_failed_total", in: text) == ["email": 2])
    }
}
