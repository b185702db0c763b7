import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Render

/// The rendered Prometheus configuration and alert rules, read by the real Prometheus tools (Debian's `prometheus`
/// package): `promtool check config` (which loads the rules beside it) and `promtool test rules` with the unit
/// tests of every rule (Tests/RenderTests/AlertRules/alerts.test.yml: each rule firing, and the near cases that
/// must not).
@Suite("Alert rules checked and unit-tested by promtool")
struct AlertRulesTests {
    /// The rendered `monitoring/prometheus/` files of `input`, written into a fresh folder.
    func renderedPrometheusFolder(_ input: RenderInput, secrets: Secrets) throws -> String {
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        let dir = try Scratch.folder("prometheus")
        for file in files where file.relativePath.hasPrefix("monitoring/prometheus/") {
            let name = String(file.relativePath.dropFirst("monitoring/prometheus/".count))
            try Data(file.bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        return dir
    }

    /// The alert names of a rules file, read back with promtool's own listing of what it loaded.
    func alertNames(_ rules: String) throws -> [String] {
        let parsed = RealTools.run(["promtool", "check", "rules", "--lint=none", rules])
        #expect(parsed.status == 0, "\(parsed.output)")
        let text = try String(contentsOfFile: rules, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
        }
    }

    @Test(
        .requires("promtool", install: "apt-get install -y prometheus"),
        arguments: GoldenCase.allCases)
    func theRenderedConfigAndRulesLoadAndEveryRuleBehavesAsItsTestsSay(_ golden: GoldenCase) throws {
        let (input, secrets) = try golden.input()
        guard input.profile.monitoringEnabled else {
            let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
            #expect(!files.contains { $0.relativePath.hasPrefix("monitoring/") })
            return
        }
        let dir = try renderedPrometheusFolder(input, secrets: secrets)
        let config = RealTools.run(["promtool", "check", "config", dir + "/prometheus.yml"])
        #expect(config.status == 0, "\(config.output)")
        #expect(config.output.contains("SUCCESS: 1 rule files found"), "\(config.output)")
        let names = try alertNames(dir + "/alerts.yml")
        #expect(names.contains("BackupTooOld") == input.backups, "\(names)")
        #expect(names.contains("Watchdog") && names.contains("CertificateExpiresSoon"), "\(names)")
        guard input.backups else { return }
        try FileManager.default.copyItem(
            atPath: Repository.root + "/Tests/RenderTests/AlertRules/alerts.test.yml",
            toPath: dir + "/alerts.test.yml")
        let tested = RealTools.run(["promtool", "test", "rules", "alerts.test.yml"], in: dir)
        #expect(tested.status == 0, "\(tested.output)")
        // Every rule has at least one test in which it fires.
        let tests = try String(contentsOfFile: dir + "/alerts.test.yml", encoding: .utf8)
        for name in names {
            #expect(
                tests.contains("alertname: \(name)\n    exp_alerts:\n    - exp_labels"), "no firing test for \(name)")
        }
    }
}
