import Deploy
import Foundation
import Host
import Processes
import SBSCore
import StepGraph
import Synchronization
import TestSupport
import Testing
import Wizard

@testable import Installer

/// install-timers on a scratch root, with a fixture host whose `systemctl` is a script that records each call
/// (the machine's own systemd is never touched).
struct TimersFixture {
    let root: String
    let host: String

    init(systemd: Bool) throws {
        let base = Scratch.path("timers")
        root = base + "/root"
        host = base + "/host"
        let fm = FileManager.default
        try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: host + "/usr/bin", withIntermediateDirectories: true)
        if systemd { try fm.createDirectory(atPath: host + "/run/systemd/system", withIntermediateDirectories: true) }
        let path = host + "/usr/bin/systemctl"
        try "#!/bin/sh\necho \"systemctl $*\" >> \"\(host)/calls\"\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    var unitDirectory: String { root + "/etc/systemd/system" }

    var calls: [String] {
        ((try? String(contentsOfFile: host + "/calls", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func action() throws -> InstallTimers {
        InstallTimers(
            tools: InstallTools(
                commands: SystemCommandRunner(searchPath: [host + "/usr/bin"]), secrets: AnswerSecretValues(),
                digester: try SecretDigester.load(Layout(root: root), create: false)))
    }

    func answers(backups: FeatureSwitch) throws -> Answers {
        var answers = Answers()
        answers.domain = try DomainName("shop.example.test")
        answers.backups = backups
        return answers
    }

    func inputs(backups: FeatureSwitch, sysroot: String? = nil) throws -> InstallInputs {
        InstallInputs(
            answers: try answers(backups: backups), layout: Layout(root: root), sysroot: sysroot ?? host,
            assets: AssetSnapshot(files: [:]), secretDigests: [:], executable: "/usr/local/bin/sbs")
    }

    /// The step's input, with choose-profile's output: the reference host's profile, monitoring on or off.
    func input(backups: FeatureSwitch, monitoring: Bool = false, sysroot: String? = nil) throws -> InstallTimers.Input {
        var profile = try ProfileTable(yaml: AssetSnapshot(BundledAssetSource()).text("assets/profiles.yaml"))
            .choose(for: InstallSession.referenceHost, request: ProfileChoiceRequest())
        profile.monitoringEnabled = monitoring
        let needs = NeededOutputs([ChooseProfile.name: (ChooseProfile.name, try JSONValue(encoding: profile))])
        return try action().input(try inputs(backups: backups, sysroot: sysroot), needs: needs)
    }
}

/// Collects what a step shows on the screen.
final class ShownLines: Sendable {
    let lines = Mutex<[String]>([])
    func log(_ step: String) -> StepLog {
        StepLog(step: step, runLog: RunLog(), progress: { [self] _, line in lines.withLock { $0.append(line) } })
    }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

@Suite struct InstallTimersStep {
    @Test func whereSystemdRunsTheUnitsAreWrittenUnderTheRootAndTheTimersEnabled() async throws {
        let fixture = try TimersFixture(systemd: true)
        let input = try fixture.input(backups: .on)
        #expect(input.unitDirectory == fixture.root + "/etc/systemd/system")
        let result = try await fixture.action().run(input, log: ShownLines().log("install-timers"))
        let names = [
            "sbs-renew.service", "sbs-renew.timer", "sbs-verify.service", "sbs-verify.timer", "sbs-backup.service",
            "sbs-backup.timer",
        ]
        for name in names {
            #expect(FileManager.default.fileExists(atPath: fixture.unitDirectory + "/" + name), "\(name)")
        }
        #expect(result.products.map(\.path) == names.map { fixture.unitDirectory + "/" + $0 })
        #expect(result.output.enabled)
        #expect(
            fixture.calls == [
                "systemctl daemon-reload", "systemctl enable --now sbs-renew.timer sbs-verify.timer sbs-backup.timer",
            ])
        // The services run the given sbs with this root.
        let verify = try String(contentsOfFile: fixture.unitDirectory + "/sbs-verify.service", encoding: .utf8)
        #expect(
            verify.contains("ExecStart=\"/usr/local/bin/sbs\" \"verify\" \"--json\" \"--root\" \"\(fixture.root)\""))
        let mode =
            try FileManager.default.attributesOfItem(atPath: fixture.unitDirectory + "/sbs-renew.timer")[
                .posixPermissions] as? Int
        #expect(mode == 0o644)
    }

    @Test func withoutSystemdTheUnitsAreWrittenAndTheStepSaysHowToEnableThem() async throws {
        let fixture = try TimersFixture(systemd: false)
        let shown = ShownLines()
        let result = try await fixture.action().run(try fixture.input(backups: .on), log: shown.log("install-timers"))
        #expect(!result.output.enabled)
        #expect(fixture.calls.isEmpty)
        #expect(FileManager.default.fileExists(atPath: fixture.unitDirectory + "/sbs-renew.timer"))
        #expect(
            shown.text.contains("systemd does not run on this host: the units were written but not enabled"),
            "\(shown.text)")
        #expect(shown.text.contains("systemctl enable --now sbs-renew.timer sbs-verify.timer sbs-backup.timer"))
    }

    @Test func turningBackupsOffStopsAndRemovesTheBackupUnits() async throws {
        let fixture = try TimersFixture(systemd: true)
        _ = try await fixture.action().run(try fixture.input(backups: .on), log: ShownLines().log("install-timers"))
        #expect(FileManager.default.fileExists(atPath: fixture.unitDirectory + "/sbs-backup.timer"))
        // A link `systemctl enable` made (by hand, say) goes with it.
        try FileManager.default.createDirectory(
            atPath: fixture.unitDirectory + "/timers.target.wants", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: fixture.unitDirectory + "/timers.target.wants/sbs-backup.timer",
            withDestinationPath: fixture.unitDirectory + "/sbs-backup.timer")

        let off = try fixture.input(backups: .off)
        #expect(!off.units.backups)
        let result = try await fixture.action().run(off, log: ShownLines().log("install-timers"))
        #expect(
            result.output.units == ["sbs-renew.service", "sbs-renew.timer", "sbs-verify.service", "sbs-verify.timer"])
        #expect(!FileManager.default.fileExists(atPath: fixture.unitDirectory + "/sbs-backup.timer"))
        #expect(!FileManager.default.fileExists(atPath: fixture.unitDirectory + "/sbs-backup.service"))
        #expect(
            (try? FileManager.default.destinationOfSymbolicLink(
                atPath: fixture.unitDirectory + "/timers.target.wants/sbs-backup.timer")) == nil)
        #expect(
            fixture.calls.suffix(3) == [
                "systemctl disable --now sbs-backup.timer", "systemctl daemon-reload",
                "systemctl enable --now sbs-renew.timer sbs-verify.timer",
            ])
    }

    /// With monitoring, `sbs metrics --quiet` every minute, its routine lines kept out of the journal; turned off,
    /// its units are stopped and removed as the backup units are.
    @Test func withMonitoringTheContainerMetricsRunEveryMinuteAndGoWithIt() async throws {
        let fixture = try TimersFixture(systemd: true)
        let on = try fixture.input(backups: .off, monitoring: true)
        let result = try await fixture.action().run(on, log: ShownLines().log("install-timers"))
        #expect(result.output.timers == ["sbs-renew.timer", "sbs-verify.timer", "sbs-metrics.timer"])
        let service = try String(contentsOfFile: fixture.unitDirectory + "/sbs-metrics.service", encoding: .utf8)
        #expect(
            service.contains(
                "ExecStart=\"/usr/local/bin/sbs\" \"metrics\" \"--quiet\" \"--root\" \"\(fixture.root)\"\n"),
            "\(service)")
        #expect(service.contains("\nLogLevelMax=warning\n") && service.contains("\nSyslogLevel=warning\n"))
        let timer = try String(contentsOfFile: fixture.unitDirectory + "/sbs-metrics.timer", encoding: .utf8)
        #expect(timer.contains("\nOnCalendar=minutely\n"), "\(timer)")

        _ = try await fixture.action().run(
            try fixture.input(backups: .off, monitoring: false), log: ShownLines().log("install-timers"))
        #expect(!FileManager.default.fileExists(atPath: fixture.unitDirectory + "/sbs-metrics.timer"))
        #expect(!FileManager.default.fileExists(atPath: fixture.unitDirectory + "/sbs-metrics.service"))
        #expect(fixture.calls.contains("systemctl disable --now sbs-metrics.timer"), "\(fixture.calls)")
    }

    /// When the timers were written, for RenewalNotChecked and BackupTooOld until the jobs' first runs: read back
    /// by Prometheus' own parser (`promtool check metrics`) and as a sample between the run's start and end.
    @Test(.requires("promtool", install: "apt-get install -y prometheus"))
    func theTimersWrittenTimeReachesTheAlerts() async throws {
        let fixture = try TimersFixture(systemd: false)
        let metrics = fixture.root + "/var/lib/sbs/metrics/sbs-timers.prom"
        try FileManager.default.createDirectory(
            atPath: fixture.root + "/var/lib/sbs", withIntermediateDirectories: true)
        let before = Date().timeIntervalSince1970.rounded(.down)
        _ = try await fixture.action().run(try fixture.input(backups: .on), log: ShownLines().log("install-timers"))
        let after = Date().timeIntervalSince1970
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        let sample = text.split(separator: "\n").first { $0.hasPrefix("sbs_timers_installed_timestamp_seconds ") }
        let value = try #require(sample.flatMap { Double($0.split(separator: " ")[1]) }, "\(text)")
        #expect(value >= before && value <= after, "\(value) not in \(before)...\(after)")
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/bin/sh")
        check.arguments = ["-c", "promtool check metrics <\"$0\"", metrics]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0)
    }

    @Test func underAnotherRootTheRealHostsSystemdIsLeftAlone() throws {
        let fixture = try TimersFixture(systemd: true)
        #expect(try fixture.input(backups: .on).systemctlAllowed)
        #expect(try fixture.input(backups: .on, sysroot: "/").systemctlAllowed == false)
    }

    @Test func aFailingSystemctlFailsTheStepWithWhatItSaid() async throws {
        let fixture = try TimersFixture(systemd: true)
        try "#!/bin/sh\necho 'Failed to connect to bus: No such file or directory' >&2\nexit 1\n"
            .write(toFile: fixture.host + "/usr/bin/systemctl", atomically: true, encoding: .utf8)
        chmod(fixture.host + "/usr/bin/systemctl", 0o755)
        let error = await #expect(throws: UserError.self) {
            try await fixture.action().run(try fixture.input(backups: .off), log: ShownLines().log("install-timers"))
        }
        #expect(
            error?.message.contains("`systemctl daemon-reload` failed (exit 1): Failed to connect to bus") == true,
            "\(String(describing: error))")
    }
}

@Suite struct InstallSummaryText {
    func install(https: Int = 8443, verifyJSON: String?, timers: InstallTimers.Output?) throws -> (
        InstallSummary, Layout, [String]
    ) {
        let root = Scratch.path("summary")
        let layout = Layout(root: root)
        try FileManager.default.createDirectory(atPath: layout.stateDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: layout.etcDir, withIntermediateDirectories: true)
        let values = ["p0stgres-Secret-value-1", "jwt-Secret-value-2", "grafana-Secret-value-3"]
        try
            "# kept by sbs\nPOSTGRES_PASSWORD=\(values[0])\nJWT_SECRET=\(values[1])\nGRAFANA_ADMIN_PASSWORD=\(values[2])\n"
            .write(toFile: layout.secretsFile, atomically: true, encoding: .utf8)
        if let verifyJSON {
            try verifyJSON.write(toFile: layout.stateDir + "/verify.json", atomically: true, encoding: .utf8)
        }
        var answers = Answers()
        answers.domain = try DomainName("shop.example.test")
        answers.httpsPort = try SBSCore.Port(https)
        var state = RunState()
        if let timers {
            var record = StepRecord()
            record.status = .succeeded
            record.output = try JSONValue(encoding: timers)
            state["install-timers"] = record
        }
        return (InstallSummary(layout: layout, answers: answers, state: state), layout, values)
    }

    @Test func namesTheURLTheChecksTheCredentialsAndTheTimersButNoSecretValue() throws {
        let report =
            #"{"checks":[{"id":"https","status":"pass","detail":"ok","remedy":""},{"id":"api","status":"pass","detail":"ok","remedy":""},{"id":"tls-chain","status":"fail","detail":"x","remedy":"y"},{"id":"gpu","status":"skip","detail":"none","remedy":""}]}"#
        let (summary, layout, values) = try install(
            verifyJSON: report,
            timers: .init(
                unitDirectory: "/etc/systemd/system", units: [], timers: ["sbs-renew.timer", "sbs-verify.timer"],
                enabled: true))
        let text = summary.lines.joined(separator: "\n")
        #expect(text.contains("installed: https://shop.example.test:8443\n"), "\(text)")
        #expect(text.contains("Verified: 2 checks passed, 1 failed (tls-chain), 1 skipped"), "\(text)")
        #expect(
            text.contains("Credentials: \(layout.secretsFile) (0600, root only) and \(layout.root)/opt/sbs/.env"),
            "\(text)")
        #expect(text.contains("kept: GRAFANA_ADMIN_PASSWORD, JWT_SECRET, POSTGRES_PASSWORD"), "\(text)")
        #expect(text.contains("`sudo sbs secrets show NAME --root \(layout.root)` (root only)"), "\(text)")
        #expect(text.contains("Timers: sbs-renew.timer, sbs-verify.timer (enabled)"), "\(text)")
        // Backups are on by default: where they go, and that the repository password must be kept elsewhere.
        #expect(summary.backupRepository == layout.root + "/var/backups/sbs/restic")
        #expect(
            text.contains(
                "Keep a copy of BACKUP_PASSWORD away from this server (`sbs secrets show BACKUP_PASSWORD --root \(layout.root)`)"
            ),
            "\(text)")
        for value in values { #expect(!text.contains(value)) }
    }

    @Test func onPort443TheURLHasNoPortAndAMissingReportSaysVerificationHasNotRun() throws {
        let (summary, _, _) = try install(
            https: 443, verifyJSON: nil,
            timers: .init(
                unitDirectory: "/r/etc/systemd/system", units: [], timers: ["sbs-renew.timer"], enabled: false))
        #expect(summary.url == "https://shop.example.test")
        #expect(summary.verification.hasPrefix("verification has not run yet"))
        #expect(summary.timers.contains("written to /r/etc/systemd/system, not enabled"))
        let (withoutTimers, _, _) = try install(verifyJSON: nil, timers: nil)
        #expect(withoutTimers.timers.hasPrefix("not installed"))
    }

    @Test func onlyARunOfTheWholeGraphEndsWithTheSummary() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let graph = try InstallSession(layout: Layout(root: "/nonexistent"), sysroot: nil, assetsDirectory: repository)
            .graph()
        #expect(InstallSummary.coversWholeGraph(RunScope(), graph: graph))
        #expect(InstallSummary.coversWholeGraph(RunScope(through: "install-timers"), graph: graph))
        #expect(!InstallSummary.coversWholeGraph(RunScope(through: "write-configs"), graph: graph))
        #expect(!InstallSummary.coversWholeGraph(RunScope(through: "verify"), graph: graph))
    }
}
