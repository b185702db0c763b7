import Foundation
import Testing

/// install-timers and the end of an install, on the built binary. The steps that need Docker or a CA are skipped
/// (`--skip`), so a run `--through install-timers` covers the whole graph and ends with the summary; the fixture
/// host has no `/run/systemd/system`, so the units are written and not enabled.
@Suite(.serialized) struct TimersAndSummary {
    static let skipped = [
        "preflight", "ensure-docker", "ensure-restic", "start-proxy", "obtain-certificate", "start-stack",
        "pull-models",
        "verify",
    ]

    func install(_ root: String, _ host: String, answers: String, through: String = "install-timers") async throws
        -> Run
    {
        try await sbs(
            ["install", "--answers", answers, "--non-interactive", "--through", through]
                + Self.skipped.flatMap { ["--skip", $0] } + ["--root", root, "--sysroot", host],
            environment: testEnvironment)
    }

    /// Every value kept in secrets.env (and the answers' own secret).
    func secretValues(_ root: String) -> [String] {
        let kept = (read(root + "/etc/sbs/secrets.env") ?? "").split(separator: "\n").compactMap { line -> String? in
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return nil }
            return String(line[line.index(after: equals)...])
        }
        return kept + [testEnvironment["SBS_TEST_ANTHROPIC_KEY"] ?? ""]
    }

    @Test func timersAreWrittenUnderTheRootReportedWithoutSystemdAndWrittenAgainWhenDeleted() async throws {
        let root = scratchDirectory("timers")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        let units = root + "/etc/systemd/system"

        let first = try await install(root, host, answers: root + "/site.yaml")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(ranSteps(first).contains("install-timers"))
        #expect(stateStatus(root, "install-timers") == "succeeded")
        for name in [
            "sbs-renew.service", "sbs-renew.timer", "sbs-verify.service", "sbs-verify.timer", "sbs-backup.service",
            "sbs-backup.timer",
        ] {
            #expect(FileManager.default.fileExists(atPath: units + "/" + name), "\(name) missing")
        }
        #expect(
            first.stderr.contains("systemd does not run on this host: the units were written but not enabled"),
            "\(first.stderr)")
        // The services run this very binary, for this root.
        let binary = URL(fileURLWithPath: sbsBinary).resolvingSymlinksInPath().path
        let renew = read(units + "/sbs-renew.service") ?? ""
        #expect(renew.contains("ExecStart=\"\(binary)\" \"renew\" \"--wait-for-lock\" \"900\" \"--root\""), "\(renew)")
        #expect(renew.contains("\"--root\" \"\(root)\""))
        #expect(
            read(units + "/sbs-backup.service")?.contains(
                "ExecStart=\"\(binary)\" \"backup\" \"--wait-for-lock\" \"900\" \"--root\" \"\(root)\"") == true)

        // The end of the install: URL, verification, where the credentials are, how to read one; no value.
        #expect(
            first.stdout.contains("Your Small Business Server is installed: https://shop.example.test\n"),
            "\(first.stdout)")
        #expect(first.stdout.contains("Verified: verification has not run yet (the verify step was skipped)"))
        #expect(
            first.stdout.contains("Credentials: \(root)/etc/sbs/secrets.env (0600, root only) and \(root)/opt/sbs/.env")
        )
        #expect(first.stdout.contains("GRAFANA_ADMIN_PASSWORD"))
        #expect(first.stdout.contains("`sudo sbs secrets show NAME --root \(root)` (root only)"))
        #expect(
            first.stdout.contains(
                "Timers: sbs-renew.timer, sbs-verify.timer, sbs-backup.timer, sbs-metrics.timer written to \(units), not enabled"
            ))
        let values = secretValues(root)
        #expect(values.count >= 6)
        for value in values {
            #expect(!first.stdout.contains(value) && !first.stderr.contains(value), "a secret value was printed")
        }

        // A deleted unit is drift: the next run writes it again, byte for byte.
        let verifyTimer = read(units + "/sbs-verify.timer")
        try FileManager.default.removeItem(atPath: units + "/sbs-verify.timer")
        let repair = try await install(root, host, answers: root + "/site.yaml")
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(
            repair.stderr.contains(
                "▶ install-timers: Install timers for renewal, verification, backups and container metrics (drift: \(units)/sbs-verify.timer missing)"
            ), "\(repair.stderr)")
        #expect(read(units + "/sbs-verify.timer") == verifyTimer)
        let settled = try await install(root, host, answers: root + "/site.yaml")
        #expect(!ranSteps(settled).contains("install-timers"), "\(settled.stderr)")
        #expect(settled.stderr.contains("= install-timers: up to date"))

        // Backups turned off: no backup units any more, the others stay.
        let answers = (read(root + "/site.yaml") ?? "").replacingOccurrences(
            of: "  monitoring: true", with: "  monitoring: true\n  backups: false")
        try answers.write(toFile: root + "/no-backups.yaml", atomically: true, encoding: .utf8)
        let off = try await install(root, host, answers: root + "/no-backups.yaml")
        #expect(off.status == 0, "\(off.stderr)")
        #expect(!FileManager.default.fileExists(atPath: units + "/sbs-backup.service"))
        #expect(!FileManager.default.fileExists(atPath: units + "/sbs-backup.timer"))
        #expect(FileManager.default.fileExists(atPath: units + "/sbs-renew.timer"))
        #expect(
            off.stdout.contains("Timers: sbs-renew.timer, sbs-verify.timer, sbs-metrics.timer written to"),
            "\(off.stdout)")
    }

    @Test func aRunThatStopsEarlyPrintsNoSummary() async throws {
        let root = scratchDirectory("no-summary")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        let run = try await install(root, host, answers: root + "/site.yaml", through: "write-configs")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("Done through write-configs"))
        #expect(!run.stdout.contains("Your Small Business Server is installed"), "\(run.stdout)")
        #expect(!run.stdout.contains("Credentials:"))
        for value in secretValues(root) { #expect(!run.stdout.contains(value) && !run.stderr.contains(value)) }
    }
}
