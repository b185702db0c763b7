import Foundation
import Testing

/// `sbs verify` as a person runs it, on an install whose stack is not there: HTTP ports nothing listens on and a
/// `docker` (first on PATH) that cannot reach an engine, so the host's own Docker is never asked.
@Suite struct VerifyCommandTests {
    static let ids = [
        "http-redirect", "web-app", "api-health", "auth-health", "header-hsts", "header-x-frame-options",
        "header-x-content-type-options", "tls-certificate", "tls-protocol", "database", "containers", "models",
        "grafana", "monitoring-targets", "alerting", "published-ports", "privileges", "backup",
    ]

    func installedRoot() throws -> (root: String, environment: [String: String]) {
        let root = scratchDirectory("verify")
        try FileManager.default.createDirectory(atPath: root + "/etc/sbs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try """
        version: 1
        domain: shop.example.test
        aliases: [www.shop.example.test]
        admin_email: admin@example.test
        ports:
          http: 1
          https: 2
        """.write(toFile: root + "/etc/sbs/answers.yaml", atomically: true, encoding: .utf8)
        try
            "#!/bin/sh\necho \"Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\" >&2\nexit 1\n"
            .write(toFile: root + "/bin/docker", atomically: true, encoding: .utf8)
        chmod(root + "/bin/docker", 0o755)
        return (root, ["PATH": root + "/bin:/usr/bin:/bin"])
    }

    @Test func failedChecksExitOneWithTheReportAsJSONAndKeptInTheStateFolder() async throws {
        let (root, environment) = try installedRoot()
        let run = try await sbs(["verify", "--json", "--root", root], environment: environment)
        #expect(run.status == 1, "\(run.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(checks.map { $0["id"] as? String } == Self.ids)
        // Every check of the stack fails; the backup check is skipped (no backup yet, right after an install).
        #expect(checks.last?["status"] as? String == "skip", "\(checks.last ?? [:])")
        for check in checks.dropLast() {
            #expect(check["status"] as? String == "fail", "\(check)")
            #expect((check["remedy"] as? String)?.isEmpty == false, "\(check)")
        }
        #expect((checks[0]["detail"] as? String)?.contains("http://shop.example.test:1/") == true)
        #expect((checks[10]["detail"] as? String)?.contains("Cannot connect to the Docker daemon") == true)
        #expect(read(root + "/var/lib/sbs/verify.json") == run.stdout, "the kept report is the printed one")

        let table = try await sbs(["verify", "--root", root], environment: environment)
        #expect(table.status == 1)
        for id in Self.ids { #expect(table.stdout.contains("\n" + id + " "), "\(id) missing from the table") }
        #expect(table.stdout.contains("→ ") && table.stdout.contains("17 failed, 1 skipped."), "\(table.stdout)")
    }

    @Test func withNothingInstalledItSaysToInstallFirst() async throws {
        let root = scratchDirectory("verify-empty")
        let run = try await sbs(["verify", "--root", root])
        #expect(run.status == 1)
        #expect(run.stderr.contains("Run `sbs install` first."), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs/verify.json"))
    }
}
