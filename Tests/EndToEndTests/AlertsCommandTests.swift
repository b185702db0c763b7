import Foundation
import Testing

/// `sbs alerts test` refuses, before asking any container, what cannot send a test alert (the delivery itself is in
/// InstallerTests/AlertsTestTests against a real Alertmanager, and in the end-to-end install).
@Suite struct AlertsCommandTests {
    @Test func withNothingInstalledItSaysToInstallFirst() async throws {
        let root = scratchDirectory("alerts-empty")
        let run = try await sbs(["alerts", "test", "--root", root])
        #expect(run.status == 1)
        #expect(run.stderr.contains("Nothing was installed under \(root)"), "\(run.stderr)")
        // `sbs alerts` alone is the test.
        let alone = try await sbs(["alerts", "--root", root])
        #expect(alone.status == 1 && alone.stderr.contains("Nothing was installed under \(root)"), "\(alone.stderr)")
    }

    @Test func anInstallThatHasNotChosenItsProfileIsNotAskedAndATimeoutOutOfRangeIsRefused() async throws {
        let root = scratchDirectory("alerts-unfinished")
        try FileManager.default.createDirectory(atPath: root + "/etc/sbs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/opt/sbs", withIntermediateDirectories: true)
        try """
        version: 1
        domain: shop.example.test
        admin_email: admin@example.test
        features: {monitoring: true}
        smtp: {host: mail.example.test, user: alerts@example.test, password: stored, sender: sbs@example.test}
        alerts: {email: owner@example.test}
        """.write(toFile: root + "/etc/sbs/answers.yaml", atomically: true, encoding: .utf8)
        try "services: {}\n".write(toFile: root + "/opt/sbs/docker-compose.yml", atomically: true, encoding: .utf8)
        // No docker on PATH: a command that asked a container would fail differently.
        let run = try await sbs(["alerts", "test", "--root", root], environment: ["PATH": "/nonexistent"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("has not chosen a profile yet"), "\(run.stderr)")
        for timeout in ["0", "601", "x"] {
            let refused = try await sbs(["alerts", "test", "--timeout", timeout, "--root", root])
            #expect(refused.status == 64, "\(timeout): \(refused.status)")
            #expect(refused.stderr.contains("--timeout"), "\(timeout): \(refused.stderr)")
        }
    }
}
