import Foundation
import Host
import SBSCore
import TestSupport
import Testing
import Yams

@testable import Render

/// Alertmanager's configuration as sbs renders it from the answers' `alerts:` and `smtp:`, read by the real
/// programs of Debian's `prometheus-alertmanager` package: `amtool check-config` over generated answers (and read
/// back: the recipients, the relay, the webhook are the answers'), then a real Alertmanager that mails an alert
/// through an SMTP server on loopback (scripts/test/smtp-sink.py, which checks the login) and posts it to a webhook.
@Suite("Alertmanager's configuration")
struct AlertmanagerTests {
    static let monitored: ResolvedProfile = {
        let table = try! Repository.profileTable()
        return try! table.choose(for: facts(memoryMiB: 32000, cpus: 8), request: ProfileChoiceRequest())
    }()

    static func render(
        emails: [String], webhook: String?, smtpHost: String = "smtp.example.com", smtpPort: Int = 587,
        password: String = "relay password with # $ \\ and more"
    ) throws -> [RenderedFile] {
        let smtp = SMTPSettings(
            host: try DomainName(smtpHost), port: try Port(smtpPort), user: try SafeToken("alerts@example.com"),
            sender: try EmailAddress("sbs@example.com"))
        var input = try makeInput(profile: monitored, backups: true, smtp: smtp)
        input.alerts = AlertsSettings(emails: try emails.map { try EmailAddress($0) }, webhook: webhook != nil)
        var extra: [(SecretName, String)] = [(.smtpPassword, password)]
        if let webhook { extra.append((.alertsWebhookURL, webhook)) }
        return try ConfigRenderer.render(
            input, secrets: try fixedSecrets(extra: extra), templates: Repository.templates())
    }

    static var amtoolInstalled: Bool { RealTools.run(["amtool", "--version"]).status == 0 }

    @Test(.requires("amtool is not installed (apt-get install -y prometheus-alertmanager)", when: amtoolInstalled))
    func theConfigurationLoadsAndSaysWhatTheAnswersSaid() throws {
        var generator = SeededGenerator(seed: 23)
        let addresses = [
            "owner@example.com", "it@shop.example.com", "night-shift@example.org", "a.b+alerts@example.net",
        ]
        let hooks = [
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://chat.example.com/api/v1/hooks/abc?token=1&room=ops", "http://127.0.0.1:8065/hooks/x",
        ]
        for round in 0..<24 {
            let emails = Array(addresses.shuffled(using: &generator).prefix(Int.random(in: 0...3, using: &generator)))
            let webhook =
                Bool.random(using: &generator) || emails.isEmpty ? hooks.randomElement(using: &generator) : nil
            let host = ["smtp.example.com", "mail.example.org"].randomElement(using: &generator)!
            let port = [25, 465, 587].randomElement(using: &generator)!
            let files = try Self.render(emails: emails, webhook: webhook, smtpHost: host, smtpPort: port)
            let config = try #require(files.first { $0.relativePath == "monitoring/alertmanager/alertmanager.yml" })
            #expect(config.mode == 0o640 && config.group == ConfigRenderer.alertmanagerGroup)
            let password = files.first { $0.relativePath == "monitoring/alertmanager/smtp_password" }
            #expect((password != nil) == !emails.isEmpty, "round \(round)")
            #expect(password.map { $0.text == "relay password with # $ \\ and more" && $0.mode == 0o640 } ?? true)

            let dir = try Scratch.folder("alertmanager")
            try Data(config.bytes).write(to: URL(fileURLWithPath: dir + "/alertmanager.yml"))
            let checked = RealTools.run(["amtool", "check-config", dir + "/alertmanager.yml"])
            #expect(checked.status == 0, "round \(round): \(checked.output)\n\(config.text)")

            // Read back: what Alertmanager will do is what the answers said.
            let yaml = try #require(try Yams.load(yaml: config.text) as? [String: Any])
            let global = try #require(yaml["global"] as? [String: Any])
            let receivers = try #require(yaml["receivers"] as? [[String: Any]])
            let person = try #require(receivers.first { $0["name"] as? String == "person" })
            let mail = person["email_configs"] as? [[String: Any]]
            if emails.isEmpty {
                #expect(mail == nil && global["smtp_smarthost"] == nil, "round \(round)")
            } else {
                #expect(mail?.first?["to"] as? String == emails.joined(separator: ", "))
                #expect(mail?.first?["send_resolved"] as? Bool == true)
                #expect(global["smtp_smarthost"] as? String == "\(host):\(port)")
                #expect(global["smtp_require_tls"] as? Bool == true)
                #expect(global["smtp_auth_password_file"] as? String == "/etc/sbs/alertmanager/smtp_password")
                #expect(global["smtp_from"] as? String == "sbs@example.com")
            }
            let hook = (person["webhook_configs"] as? [[String: Any]])?.first?["url"] as? String
            #expect(hook == webhook, "round \(round)")
            let route = try #require(yaml["route"] as? [String: Any])
            #expect(route["receiver"] as? String == "person" && route["repeat_interval"] as? String == "24h")
            // Where Alertmanager's own route tester sends each kind: `sbs alerts test`'s alert to the person at
            // once, the heartbeat to nobody, a rule's alert to the person.
            for (labels, receiver) in [
                (["alertname=SBSTest", "sbs_test=20261206T120000Z"], "person"), (["alertname=Watchdog"], "heartbeat"),
                (["alertname=DiskAlmostFull", "instance=host"], "person"),
            ] {
                let routed = RealTools.run(
                    ["amtool", "config", "routes", "test", "--config.file=\(dir)/alertmanager.yml"] + labels)
                // The last line: amtool warns first that the file overrides the (unused) URL.
                #expect(
                    routed.output.split(separator: "\n").last.map(String.init) == receiver,
                    "round \(round) \(labels): \(routed.output)")
            }
            let testRoute = (route["routes"] as? [[String: Any]])?.first {
                ($0["matchers"] as? [String]) == ["alertname=\"SBSTest\""]
            }
            #expect(testRoute?["group_wait"] as? String == "0s")
            #expect(testRoute?["group_by"] as? [String] == ["alertname", "sbs_test"])
        }
    }

    /// No answer that reaches anyone: Alertmanager still loads, with a receiver that sends nothing.
    @Test(.requires("amtool is not installed (apt-get install -y prometheus-alertmanager)", when: amtoolInstalled))
    func withoutAlertsAnswersTheConfigurationStillLoads() throws {
        let files = try ConfigRenderer.render(
            try makeInput(profile: Self.monitored), secrets: try fixedSecrets(), templates: Repository.templates())
        let config = try #require(files.first { $0.relativePath == "monitoring/alertmanager/alertmanager.yml" })
        #expect(!files.contains { $0.relativePath == "monitoring/alertmanager/smtp_password" })
        let dir = try Scratch.folder("alertmanager-none")
        try Data(config.bytes).write(to: URL(fileURLWithPath: dir + "/alertmanager.yml"))
        let checked = RealTools.run(["amtool", "check-config", dir + "/alertmanager.yml"])
        #expect(checked.status == 0, "\(checked.output)")
    }

    static var alertmanagerInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-alertmanager") && amtoolInstalled
    }

    /// A real Alertmanager with the rendered configuration: an alert posted to it is mailed to both recipients
    /// through the relay (STARTTLS, then the login with the password from its file), and posted to the webhook.
    @Test(
        .requires(
            "Alertmanager is not installed (apt-get install -y prometheus-alertmanager)", when: alertmanagerInstalled),
        .timeLimit(.minutes(5)))
    func aRealAlertmanagerMailsAndPostsAnAlert() async throws {
        let dir = try Scratch.folder("alertmanager-live")
        let password = "relay password # $ \\ end"
        let relay = try MailRelay(folder: dir, user: "alerts@example.com", password: password)
        defer { relay.stop() }
        try await waitForListener(relay.port)
        let smtpPort = relay.port
        let hook = try ScriptedHTTPServer(["POST /hook": .json("{}")])
        defer { hook.stop() }
        let files = try Self.render(
            emails: ["owner@example.com", "it@example.com"], webhook: "http://127.0.0.1:\(hook.port)/hook",
            smtpHost: "mail.example.com", smtpPort: 587, password: password)
        for file in files where file.relativePath.hasPrefix("monitoring/alertmanager/") {
            // The container's mount point is the test's folder; the relay's name is this machine's.
            let text = file.text.replacingOccurrences(of: "/etc/sbs/alertmanager/", with: dir + "/")
                .replacingOccurrences(of: "\"mail.example.com:587\"", with: "\"localhost:\(smtpPort)\"")
            try Data(text.utf8).write(
                to: URL(fileURLWithPath: dir + "/" + (file.relativePath as NSString).lastPathComponent))
        }
        let alertmanager = try LocalAlertmanager(
            configFile: dir + "/alertmanager.yml", storage: dir + "/data", trusting: relay.certificate)
        defer { alertmanager.stop() }
        let url = "--alertmanager.url=" + alertmanager.url
        var posted = (status: Int32(-1), output: "")
        for _ in 0..<100 {
            posted = RealTools.run([
                "amtool", url, "alert", "add", "DiskAlmostFull", "severity=warning", "instance=shop",
                "--annotation=summary=Disk 91 % full",
            ])
            if posted.status == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(posted.status == 0, "\(posted.output)")

        // group_wait is 30 s: the notifications follow.
        var mails: [String] = []
        for _ in 0..<600 {
            mails = relay.mails
            if !mails.isEmpty && !hook.received.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(mails.count == 1, "\(mails)")
        let mail = try relay.text(of: mails.first ?? "none")
        #expect(mail.contains("X-Sink-Login: alerts@example.com"), "\(mail.prefix(400))")
        #expect(mail.contains("X-Sink-TLS: yes"), "\(mail.prefix(400))")
        #expect(mail.contains("X-Sink-To: <owner@example.com> <it@example.com>"), "\(mail.prefix(400))")
        #expect(mail.contains("X-Sink-From: <sbs@example.com>"), "\(mail.prefix(400))")
        #expect(mail.contains("Subject: [FIRING:1] DiskAlmostFull"), "\(mail.prefix(800))")
        let posts = hook.received
        #expect(posts.count == 1 && posts.first?.body.contains("\"alertname\":\"DiskAlmostFull\"") == true, "\(posts)")
        #expect(hook.unexpected.isEmpty)
    }
}
