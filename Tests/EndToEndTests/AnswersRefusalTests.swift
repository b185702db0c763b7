import Foundation
import Testing

/// Issue 15: what an install refuses, `sbs answers validate` refuses, with line and column, and the install refuses
/// it before it writes anything.
@Suite struct AnswersRefusal {
    /// Everything under `root`, relative (an install refused in time writes nothing there).
    func written(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
    }

    @Test func smtpWithoutAPasswordIsRefusedByValidateAndByTheInstallBeforeAnythingIsWritten() async throws {
        let dir = scratchDirectory("smtp")
        try writeAnswers(dir + "/site.yaml", extra: "smtp:\n  host: mail.example.test\n  user: mailer\n")
        let validate = try await sbs(
            [
                "answers", "validate", dir + "/site.yaml", "--sysroot",
                repositoryRoot + "/Tests/Fixtures/hosts/vm-16g-no-gpu",
            ],
            environment: testEnvironment)
        #expect(validate.status == 1)
        #expect(validate.stderr.contains("site.yaml:14:3: smtp needs a password"), "\(validate.stderr)")
        let root = dir + "/root"
        let install = try await sbs(
            [
                "install", "--answers", dir + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", try fixtureHost("vm-16g-no-gpu"),
            ], environment: testEnvironment)
        #expect(install.status == 1)
        #expect(install.stderr.contains("smtp needs a password"), "\(install.stderr)")
        #expect(written(root).isEmpty, "\(written(root))")
    }

    /// Alerts that could reach nobody are refused before anything is written: a webhook over plain http to another
    /// machine (its URL is a credential, and the refusal does not repeat it), alerts with monitoring off.
    @Test func alertsThatCouldReachNobodyAreRefusedBeforeAnythingIsWritten() async throws {
        let dir = scratchDirectory("alerts")
        let host = repositoryRoot + "/Tests/Fixtures/hosts/vm-16g-no-gpu"
        let environment = testEnvironment.merging(["CHAT_HOOK": "http://chat.example.com/hooks/Hunter2-token"]) { $1 }
        try writeAnswers(dir + "/plain.yaml", extra: "alerts:\n  webhook: env:CHAT_HOOK\n")
        let validate = try await sbs(
            ["answers", "validate", dir + "/plain.yaml", "--sysroot", host], environment: environment)
        #expect(validate.status == 1)
        #expect(validate.stderr.contains("alerts.webhook: the URL must start with https://"), "\(validate.stderr)")
        #expect(!validate.stderr.contains("Hunter2"))
        let root = dir + "/root"
        let install = try await sbs(
            [
                "install", "--answers", dir + "/plain.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", try fixtureHost("vm-16g-no-gpu"),
            ], environment: environment)
        #expect(install.status == 1)
        #expect(install.stderr.contains("alerts.webhook"), "\(install.stderr)")
        #expect(written(root).isEmpty, "\(written(root))")

        try writeAnswers(dir + "/off.yaml", extra: "alerts:\n  webhook: env:CHAT_HOOK\n")
        let off = try String(contentsOfFile: dir + "/off.yaml", encoding: .utf8)
            .replacingOccurrences(of: "  monitoring: true", with: "  monitoring: false")
        try off.write(toFile: dir + "/off.yaml", atomically: true, encoding: .utf8)
        let refused = try await sbs(
            ["answers", "validate", dir + "/off.yaml", "--sysroot", host],
            environment: environment.merging(["CHAT_HOOK": "https://chat.example.com/hooks/x"]) { $1 })
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("runs no monitoring to send them"), "\(refused.stderr)")
    }

    /// A new backups.password once backups exist would make every backup made so far unreadable: refused before
    /// anything changes. Before any backup it is taken, and 'stored' keeps the current one.
    @Test func aNewBackupPasswordIsRefusedOnceTheRepositoryExists() async throws {
        let dir = scratchDirectory("backup-password")
        let root = dir + "/root"
        let host = try fixtureHost("vm-16g-no-gpu")
        func install(_ password: String) async throws -> (status: Int32, stderr: String) {
            try writeAnswers(dir + "/site.yaml", extra: "backups:\n  password: \(password)\n")
            let result = try await sbs(
                [
                    "install", "--answers", dir + "/site.yaml", "--non-interactive", "--through", "write-configs",
                    "--root", root, "--sysroot", host,
                ], environment: testEnvironment)
            return (result.status, result.stderr)
        }
        func current() async throws -> String {
            try await sbs(["secrets", "show", "BACKUP_PASSWORD", "--root", root]).stdout
        }
        #expect(try await install("first-password-0001").status == 0)
        let second = try await install("second-password-0002")
        #expect(second.status == 0, "no backup yet: a new password is taken (\(second.stderr))")
        #expect(try await current() == "second-password-0002\n")
        // restic set the repository up (its config file): the password is bound to it.
        try FileManager.default.createDirectory(
            atPath: root + "/var/backups/sbs/restic", withIntermediateDirectories: true)
        try "restic config\n".write(toFile: root + "/var/backups/sbs/restic/config", atomically: true, encoding: .utf8)
        let before = read(root + "/etc/sbs/secrets.env")
        let refused = try await install("third-password-0003")
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains(
                "site.yaml:14:13: backups.password differs from the BACKUP_PASSWORD this installation's backups are encrypted with"
            ), "\(refused.stderr)")
        #expect(read(root + "/etc/sbs/secrets.env") == before && before != nil)
        #expect(try await install("stored").status == 0)
        #expect(try await current() == "second-password-0002\n")
    }

    @Test func theGPUFeatureOnAHostWithoutAGPUIsRefusedBeforeAnythingIsWritten() async throws {
        let dir = scratchDirectory("gpu")
        try writeAnswers(dir + "/site.yaml", extra: "profile: recommended\n")
        var text = try #require(read(dir + "/site.yaml"))
        text = text.replacingOccurrences(
            of: "features:\n  monitoring: true\n", with: "features:\n  monitoring: true\n  gpu: true\n")
        try text.write(toFile: dir + "/site.yaml", atomically: true, encoding: .utf8)
        let noGPU = repositoryRoot + "/Tests/Fixtures/hosts/vm-16g-no-gpu"
        // validate checks against the host it runs on (here the fixture's), as the install on it will ...
        let validate = try await sbs(
            ["answers", "validate", dir + "/site.yaml", "--sysroot", noGPU], environment: testEnvironment)
        #expect(validate.status == 1)
        #expect(
            validate.stderr.contains(
                "site.yaml:7:8: features.gpu: The answers turn the GPU feature on, but this host has no usable GPU"),
            "\(validate.stderr)")
        // ... on a host with a GPU the same answers are valid ...
        let withGPU = try await sbs(
            [
                "answers", "validate", dir + "/site.yaml", "--sysroot",
                repositoryRoot + "/Tests/Fixtures/hosts/nvidia-64g",
            ],
            environment: testEnvironment)
        #expect(withGPU.status == 0, "\(withGPU.stderr)")
        // ... and for answers written for another machine, --any-host leaves the host's checks to the install.
        let anyHost = try await sbs(
            ["answers", "validate", dir + "/site.yaml", "--any-host", "--sysroot", noGPU], environment: testEnvironment)
        #expect(anyHost.status == 0, "\(anyHost.stderr)")
        #expect(anyHost.stdout.contains("--any-host"), "\(anyHost.stdout)")
        let root = dir + "/root"
        let install = try await sbs(
            [
                "install", "--answers", dir + "/site.yaml", "--non-interactive", "--root", root,
                "--sysroot", try fixtureHost("vm-16g-no-gpu"),
            ], environment: testEnvironment)
        #expect(install.status == 1)
        #expect(install.stderr.contains("features.gpu: The answers turn the GPU feature on"), "\(install.stderr)")
        #expect(written(root).isEmpty, "\(written(root))")
    }

    @Test func planNamesTheVariableAnEnvSecretLacks() async throws {
        let dir = scratchDirectory("plan-env")
        let root = dir + "/root"
        try writeAnswers(dir + "/site.yaml")
        let host = try fixtureHost("vm-16g-no-gpu")
        let install = try await sbs(
            [
                "install", "--answers", dir + "/site.yaml", "--non-interactive", "--through", "generate-secrets",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(install.status == 0, "\(install.stderr)")
        let plan = try await sbs(
            ["plan", "--answers", dir + "/site.yaml", "--root", root, "--sysroot", host],
            environment: ["SBS_TEST_ANTHROPIC_KEY": ""])
        #expect(plan.status == 0, "\(plan.stderr)")
        let line = plan.stdout.split(separator: "\n").first { $0.contains("generate-secrets") }.map(String.init) ?? ""
        #expect(line.contains("SBS_TEST_ANTHROPIC_KEY is not set"), "\(plan.stdout)")
        #expect(!line.contains("inputs changed"), "\(plan.stdout)")
    }
}
