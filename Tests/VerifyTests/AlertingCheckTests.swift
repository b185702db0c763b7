import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

@testable import Verify

/// `sbs verify`'s `alerting` check: what it reads from Debian's real Alertmanager (its loaded configuration, as
/// `/api/v2/status` writes it back), and the check's logic over Prometheus's and Alertmanager's answers.
@Suite(.serialized) struct AlertingCheck {
    static let alertmanagers = "prometheus wget -q -O - http://127.0.0.1:9090/api/v1/alertmanagers"
    static let status = "alertmanager wget -q -O - http://127.0.0.1:9093/api/v2/status"

    static let sending = CommandResult(
        status: 0,
        stdout:
            #"{"status":"success","data":{"activeAlertmanagers":[{"url":"http://alertmanager:9093/api/v2/alerts"}],"droppedAlertmanagers":[]}}"#,
        stderr: "")
    static let notSending = CommandResult(
        status: 0, stdout: #"{"status":"success","data":{"activeAlertmanagers":[],"droppedAlertmanagers":[]}}"#,
        stderr: "")

    /// Alertmanager's configuration with the receiver `person` sending by `integrations`, as sbs renders it, and a
    /// receiver `archive` with a webhook of its own.
    static func config(_ integrations: [String], folder: String) -> String {
        var text = """
            global:
              smtp_smarthost: "localhost:2525"
              smtp_from: "sbs@example.com"
              smtp_auth_username: "alerts@example.com"
              smtp_auth_password_file: \(folder)/smtp_password
              smtp_require_tls: true
            route:
              receiver: person
              routes:
                - matchers: ['alertname="Watchdog"']
                  receiver: heartbeat
            receivers:
              - name: person

            """
        if integrations.contains("email") {
            text += "    email_configs:\n      - to: \"owner@example.com\"\n        send_resolved: true\n"
        }
        if integrations.contains("webhook") {
            text += "    webhook_configs:\n      - url: \"http://127.0.0.1:9/hook\"\n        send_resolved: true\n"
        }
        // Another receiver's integrations are not the person's.
        return text
            + "  - name: heartbeat\n  - name: archive\n    webhook_configs:\n      - url: \"http://127.0.0.1:9/archive\"\n"
    }

    /// `/api/v2/status` of a real Alertmanager started with `config(integrations)`.
    static func realStatus(_ integrations: [String]) async throws -> String {
        let folder = try Scratch.folder("alerting")
        try "pass\n".write(toFile: folder + "/smtp_password", atomically: true, encoding: .utf8)
        try config(integrations, folder: folder).write(
            toFile: folder + "/alertmanager.yml", atomically: true, encoding: .utf8)
        let alertmanager = try LocalAlertmanager(
            configFile: folder + "/alertmanager.yml", storage: folder + "/data", trusting: "/dev/null")
        defer { alertmanager.stop() }
        try await waitForListener(alertmanager.port)
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-fsS", alertmanager.url + "/api/v2/status"]
        let out = Pipe()
        curl.standardOutput = out
        try curl.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        #expect(curl.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    @Test(
        .requires("prometheus-alertmanager", "curl", install: "apt-get install -y prometheus-alertmanager curl"),
        arguments: [[], ["email"], ["webhook"], ["email", "webhook"]])
    func theReceiversIntegrationsAreReadFromWhatAlertmanagerRuns(_ integrations: [String]) async throws {
        let status = try await Self.realStatus(integrations)
        #expect(Alerting.personIntegrations(status) == integrations, "\(status.prefix(2000))")
    }

    @Test func answersThatAreNotAlertmanagersAreNotRead() {
        #expect(Alerting.personIntegrations("<html>") == nil)
        #expect(Alerting.personIntegrations(#"{"config":{"original":"receivers:\n- name: other\n"}}"#) == nil)
        #expect(Alerting.activeAlertmanagers(#"{"status":"error","data":{"activeAlertmanagers":[]}}"#) == nil)
        #expect(Alerting.activeAlertmanagers(Self.sending.stdout) == ["http://alertmanager:9093/api/v2/alerts"])
    }

    func check(
        expecting: [String], prometheus: CommandResult = sending, alertmanager: CommandResult,
        monitoring: Bool = true
    ) async -> VerifyCheck {
        var target = makeTarget(profile: .init(ollamaModels: nil, monitoring: monitoring))
        target.alertIntegrations = expecting
        let probe = FixedProbe(
            list: .success([]), results: [Self.alertmanagers: prometheus, Self.status: alertmanager])
        return await StackChecks(target: target, probe: probe).alerting()
    }

    @Test(.requires("prometheus-alertmanager", "curl", install: "apt-get install -y prometheus-alertmanager curl"))
    func itPassesWhenAlertmanagerSendsAsTheAnswersSayAndNamesTheDifferenceOtherwise() async throws {
        let both = CommandResult(status: 0, stdout: try await Self.realStatus(["email", "webhook"]), stderr: "")
        let none = CommandResult(status: 0, stdout: try await Self.realStatus([]), stderr: "")

        let passed = await check(expecting: ["webhook", "email"], alertmanager: both)
        #expect(
            passed
                == .pass(
                    "alerting",
                    "Prometheus sends to http://alertmanager:9093/api/v2/alerts; Alertmanager sends by email and webhook (`sbs alerts test` proves the way)"
                ), "\(passed)")
        let nobody = await check(expecting: [], alertmanager: none)
        #expect(nobody.status == .pass && nobody.detail.contains("the answers name nobody to alert"), "\(nobody)")

        // A configuration that is not the answers' (an old one, or a hand edit): named.
        let stale = await check(expecting: ["email", "webhook"], alertmanager: none)
        #expect(stale.status == .fail, "\(stale)")
        #expect(stale.detail == "Alertmanager sends to nothing, the answers say email, webhook")
        let extra = await check(expecting: [], alertmanager: both)
        #expect(extra.detail == "Alertmanager sends to email, webhook, the answers say nobody")

        // Prometheus without an Alertmanager, or one that cannot be asked.
        let lone = await check(expecting: ["email"], prometheus: Self.notSending, alertmanager: both)
        #expect(lone.status == .fail && lone.detail == "Prometheus has no Alertmanager to send its alerts to")
        let down = await check(
            expecting: ["email"],
            alertmanager: CommandResult(status: 1, stdout: "", stderr: "service \"alertmanager\" is not running"))
        #expect(down.status == .fail && down.detail.hasPrefix("Alertmanager did not show its configuration (exit 1)"))

        let off = await check(expecting: [], alertmanager: none, monitoring: false)
        #expect(off == .skip("alerting", "monitoring is off in this profile"))
    }
}
