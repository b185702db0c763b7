import Deploy
import Foundation
import Processes
import Render
import SBSCore
import TestSupport
import Testing
import Yams

/// An answers file for these tests: everything given, DNS checks off (no network here), secrets by reference.
func writeAnswers(_ path: String, extra: String = "") throws {
    try """
    version: 1
    domain: shop.example.test
    aliases: [www.shop.example.test]
    admin_email: admin@example.test
    features:
      monitoring: true
    tls:
      mode: acme
    secrets:
      anthropic_api_key: env:SBS_TEST_ANTHROPIC_KEY
    checks:
      dns: skip
    \(extra)
    """.write(toFile: path, atomically: true, encoding: .utf8)
}

let testEnvironment = ["SBS_TEST_ANTHROPIC_KEY": "sk-test-anthropic-0042"]

/// A copy of a fixture host (so a test can change it) whose nvidia-smi, when `slow`, sleeps on its first call
/// as a stuck driver would: a run killed during detect-hardware.
func fixtureHost(_ name: String = "nvidia-64g", slowSeconds: Int? = nil, everyCall: Bool = false) throws -> String {
    let dir = scratchDirectory("host")
    let copy = Process()
    copy.executableURL = URL(fileURLWithPath: "/bin/cp")
    copy.arguments = ["-a", repositoryRoot + "/Tests/Fixtures/hosts/" + name, dir + "/host"]
    try copy.run()
    copy.waitUntilExit()
    if let slowSeconds {
        let script = """
            #!/bin/sh
            marker="$(dirname "$0")/../../slow-once"
            if [ \(everyCall ? "1" : "0") = 1 ] || [ ! -e "$marker" ]; then touch "$marker"; sleep \(slowSeconds); fi
            echo "NVIDIA GeForce RTX 4090, 24564 MiB, 550.54.14"
            """
        let path = dir + "/host/usr/bin/nvidia-smi"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }
    return dir + "/host"
}

/// The `▶ step` lines of a run: the steps it ran.
func ranSteps(_ run: Run) -> [String] {
    run.stderr.split(separator: "\n").compactMap { line in
        guard line.hasPrefix("▶ "), let colon = line.firstIndex(of: ":") else { return nil }
        return String(line[line.index(line.startIndex, offsetBy: 2)..<colon])
    }.sorted()
}

/// What state.json keeps of each step, as far as these tests read it.
struct SavedState: Decodable {
    struct Step: Decodable {
        var status: String
        var lastError: String?
    }
    var steps: [String: Step]
}

func savedState(_ root: String) throws -> SavedState {
    try JSONDecoder().decode(
        SavedState.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/var/lib/sbs/state.json")))
}

/// The image of each service in a compose file, read as YAML (anchors and aliases resolved).
func composeImages(_ path: String) throws -> [String: String] {
    let compose = try Yams.load(yaml: String(contentsOfFile: path, encoding: .utf8)) as? [String: Any]
    let services = compose?["services"] as? [String: Any] ?? [:]
    return services.compactMapValues { ($0 as? [String: Any])?["image"] as? String }
}

func stateStatus(_ root: String, _ step: String) -> String? {
    guard let data = FileManager.default.contents(atPath: root + "/var/lib/sbs/state.json"),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let steps = object["steps"] as? [String: [String: Any]]
    else { return nil }
    return steps[step]?["status"] as? String
}

@Suite(.serialized) struct InstallRuns {
    @Test func throughAMiddleStepThenAgainSkipsEverything() async throws {
        let root = scratchDirectory("through")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        let first = try await sbs(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(
            ranSteps(first) == [
                "choose-profile", "collect-answers", "detect-hardware", "generate-secrets", "write-configs",
            ])
        #expect(first.stderr.contains("profile optimal"))
        for file in ["docker-compose.yml", ".env", "nginx/nginx.conf", "nginx/bootstrap.conf", "kong/kong.yml"] {
            #expect(FileManager.default.fileExists(atPath: root + "/opt/sbs/" + file), "\(file) missing")
        }
        #expect(stateStatus(root, "preflight") == nil || stateStatus(root, "preflight") == "pending")
        let before = tree(root + "/opt/sbs")
        let modified =
            try FileManager.default.attributesOfItem(atPath: root + "/opt/sbs/docker-compose.yml")[.modificationDate]
            as? Date

        let second = try await sbs(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(second.status == 0, "\(second.stderr)")
        // Only detection runs again (it reads the host); its output is the same, so nothing after it runs.
        #expect(ranSteps(second) == ["detect-hardware"], "\(second.stderr)")
        #expect(
            second.stderr.contains(
                "▶ detect-hardware: Detect memory, CPUs, GPU and disk (observes the system: runs every time)"))
        #expect(second.stderr.contains("= choose-profile: up to date"))
        #expect(second.stderr.contains("1 step ran"))
        #expect(tree(root + "/opt/sbs") == before)
        #expect(
            try FileManager.default.attributesOfItem(atPath: root + "/opt/sbs/docker-compose.yml")[.modificationDate]
                as? Date == modified)

        // The secret went to secrets.env and .env (0600), never to the state, the answers copy or the log.
        let secret = testEnvironment["SBS_TEST_ANTHROPIC_KEY"] ?? ""
        #expect(read(root + "/etc/sbs/secrets.env")?.contains(secret) == true)
        #expect(read(root + "/opt/sbs/.env")?.contains(secret) == true)
        for path in ["/var/lib/sbs/state.json", "/etc/sbs/answers.yaml"] {
            #expect(read(root + path)?.contains(secret) == false, "\(path)")
        }
        for log in (try? FileManager.default.contentsOfDirectory(atPath: root + "/var/log/sbs")) ?? [] {
            #expect(read(root + "/var/log/sbs/" + log)?.contains(secret) == false)
        }
        #expect(!first.stderr.contains(secret) && !first.stdout.contains(secret))
    }

    @Test func aChangedAnswerRerunsExactlyTheAffectedSteps() async throws {
        let root = scratchDirectory("changed")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        let arguments = [
            "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
            "--root", root, "--sysroot", host,
        ]
        #expect(try await sbs(arguments, environment: testEnvironment).status == 0)
        let secretsBefore = read(root + "/etc/sbs/secrets.env")

        // An image changes: the answers are recorded again and the files rendered again; detection, profile and
        // secrets are untouched.
        try writeAnswers(root + "/site.yaml", extra: "images:\n  nginx: nginx:1.27-alpine\n")
        let imageRun = try await sbs(arguments, environment: testEnvironment)
        #expect(imageRun.status == 0, "\(imageRun.stderr)")
        #expect(ranSteps(imageRun) == ["collect-answers", "detect-hardware", "write-configs"])
        #expect(try composeImages(root + "/opt/sbs/docker-compose.yml")["nginx"] == "nginx:1.27-alpine")
        #expect(read(root + "/etc/sbs/secrets.env") == secretsBefore, "a re-run replaced secrets")
        let backups = (try? FileManager.default.contentsOfDirectory(atPath: root + "/var/lib/sbs/backups")) ?? []
        #expect(!backups.isEmpty, "the changed compose file was not backed up")

        // The profile changes: choose-profile and write-configs run; secrets stay.
        try writeAnswers(root + "/site.yaml", extra: "images:\n  nginx: nginx:1.27-alpine\nprofile: minimum\n")
        let profileRun = try await sbs(arguments, environment: testEnvironment)
        #expect(ranSteps(profileRun) == ["choose-profile", "collect-answers", "detect-hardware", "write-configs"])

        // The host changes (a memory upgrade): detection sees it and the profile's numbers follow.
        let compose = read(root + "/opt/sbs/docker-compose.yml")
        try writeAnswers(root + "/site.yaml", extra: "images:\n  nginx: nginx:1.27-alpine\n")
        _ = try await sbs(arguments, environment: testEnvironment)
        let meminfo = host + "/proc/meminfo"
        let text = try #require(read(meminfo))
        let upgraded =
            text.split(separator: "\n").map { $0.hasPrefix("MemTotal:") ? "MemTotal:       16318412 kB" : String($0) }
            .joined(separator: "\n") + "\n"
        try upgraded.write(toFile: meminfo, atomically: true, encoding: .utf8)
        let hardwareRun = try await sbs(arguments, environment: testEnvironment)
        #expect(hardwareRun.status == 0, "\(hardwareRun.stderr)")
        #expect(
            ranSteps(hardwareRun) == ["choose-profile", "detect-hardware", "write-configs"], "\(hardwareRun.stderr)")
        #expect(read(root + "/opt/sbs/docker-compose.yml") != compose)
        #expect(read(root + "/etc/sbs/secrets.env") == secretsBefore)
    }

    @Test func aRunKilledMidStepAndResumedEndsLikeAnUninterruptedOne() async throws {
        // The uninterrupted run, for comparison.
        let clean = scratchDirectory("clean")
        let cleanHost = try fixtureHost()
        try writeAnswers(clean + "/site.yaml")
        let uninterrupted = try await sbs(
            [
                "install", "--answers", clean + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", clean, "--sysroot", cleanHost,
            ], environment: testEnvironment)
        #expect(uninterrupted.status == 0, "\(uninterrupted.stderr)")

        // The same install, killed with SIGKILL while detect-hardware waits on a stuck nvidia-smi.
        let root = scratchDirectory("killed")
        let host = try fixtureHost(slowSeconds: 8)
        try writeAnswers(root + "/site.yaml")
        let process = try startSBS(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        // Killed while nvidia-smi holds detect-hardware (8 s): once the steps beside detection are done, or after 4 s
        // of detection whatever they are doing. Watched from a thread of its own: the suite's other tests can keep
        // the task pool busy for longer than the window lasts.
        let pid = process.processIdentifier
        let sawDetection = await onOwnThread { () -> Bool in
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(20)
            var detectionSince: ContinuousClock.Instant?
            while clock.now < deadline {
                if stateStatus(root, "detect-hardware") == "running" {
                    let since = detectionSince ?? clock.now
                    detectionSince = since
                    let besideDone =
                        stateStatus(root, "collect-answers") == "succeeded"
                        && stateStatus(root, "generate-secrets") == "succeeded"
                    if besideDone || clock.now - since > .seconds(4) { break }
                }
                usleep(20_000)
            }
            kill(pid, SIGKILL)
            return detectionSince != nil
        }
        process.waitUntilExit()
        #expect(sawDetection, "detect-hardware never ran")
        #expect(stateStatus(root, "detect-hardware") == "running", "the kill did not land mid-step")
        // What the resume must run: every step of the uninterrupted run that had not succeeded when the run died.
        let unfinished = ranSteps(uninterrupted).filter { stateStatus(root, $0) != "succeeded" }
        #expect(unfinished.contains("detect-hardware"))
        let secretsAtKill = read(root + "/etc/sbs/secrets.env")
        #expect(!FileManager.default.fileExists(atPath: root + "/opt/sbs/docker-compose.yml"))

        let status = try await sbs(["status", "--root", root])
        #expect(status.stdout.contains("detect-hardware      running"))
        #expect(status.stdout.contains("`sbs resume` continues it"))

        // resume takes the recorded scope (answers file, --through, --sysroot) and re-runs the interrupted step.
        let resumed = try await sbs(["resume", "--root", root], environment: testEnvironment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(ranSteps(resumed) == unfinished, "\(resumed.stderr)")
        if !unfinished.contains("generate-secrets") {
            #expect(read(root + "/etc/sbs/secrets.env") == secretsAtKill, "the resume replaced secrets")
        }

        // Same files (paths under the roots and generated secrets aside) and the same state.
        func normalized(_ base: String) -> [String: String] {
            tree(base + "/opt/sbs").mapValues { data in
                var text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: base, with: "ROOT")
                // The compose project is named after the root (sbs-HASH).
                text = text.replacingOccurrences(of: ComposeProject.name(forRoot: base), with: "sbs-ROOT")
                // Generated secrets differ between two installs by design: compare the keys of such lines.
                text = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                    for key in SecretName.generated.map({ $0.value + "=" })
                    where line.hasPrefix(key) { return key }
                    return String(line)
                }.joined(separator: "\n")
                return text
            }
        }
        #expect(normalized(root) == normalized(clean))
        // generate-secrets outputs a digest of the secrets, which two installs generate differently by design.
        let killedState = try comparableState(root).mapValues { $0.replacingOccurrences(of: root, with: "ROOT") }.filter
        { $0.key != "generate-secrets" }
        let cleanState = try comparableState(clean).mapValues { $0.replacingOccurrences(of: clean, with: "ROOT") }
            .filter { $0.key != "generate-secrets" }
        #expect(
            killedState.mapValues { $0.split(separator: " ").first.map(String.init) }
                == cleanState.mapValues { $0.split(separator: " ").first.map(String.init) })
        #expect(
            killedState.mapValues { $0.split(separator: " ").dropFirst(2).joined() }
                == cleanState.mapValues { $0.split(separator: " ").dropFirst(2).joined() })
    }

    @Test func ctrlCDuringAStepStopsTheRunAndResumeFinishesIt() async throws {
        let root = scratchDirectory("sigint")
        let host = try fixtureHost(slowSeconds: 60)
        try writeAnswers(root + "/site.yaml")
        let process = try startSBS(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(await waitFor(20) { stateStatus(root, "detect-hardware") == "running" })
        kill(process.processIdentifier, SIGINT)
        // The stuck nvidia-smi is killed with the run rather than waited out (it would sleep 60 s).
        #expect(await waitFor(20) { !process.isRunning })
        #expect(process.terminationStatus == 130)
        #expect(stateStatus(root, "detect-hardware") == "failed")
        #expect(try savedState(root).steps["detect-hardware"]?.lastError == "interrupted")
        #expect(!FileManager.default.fileExists(atPath: root + "/opt/sbs/docker-compose.yml"))

        let resumed = try await sbs(["resume", "--root", root], environment: testEnvironment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(stateStatus(root, "write-configs") == "succeeded")
    }

    @Test func aSecondConcurrentRunIsRefusedNamingThePid() async throws {
        let root = scratchDirectory("concurrent")
        let host = try fixtureHost(slowSeconds: 6, everyCall: true)
        try writeAnswers(root + "/site.yaml")
        let arguments = [
            "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
            "--root", root, "--sysroot", host,
        ]
        let first = try startSBS(arguments, environment: testEnvironment)
        #expect(await waitFor(20) { stateStatus(root, "detect-hardware") == "running" })
        let second = try await sbs(arguments, environment: testEnvironment)
        #expect(second.status != 0)
        #expect(
            second.stderr.contains("Another sbs run (pid \(first.processIdentifier)) is working on this installation."),
            "\(second.stderr)")
        #expect(await waitFor(60) { !first.isRunning })
        #expect(first.terminationStatus == 0)
        #expect(stateStatus(root, "write-configs") == "succeeded")
    }

    @Test func answersExportRoundTripsWithoutSecrets() async throws {
        let root = scratchDirectory("export")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        #expect(
            try await sbs(
                [
                    "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "collect-answers",
                    "--root", root, "--sysroot", host,
                ], environment: testEnvironment
            ).status == 0)
        let export = try await sbs(["answers", "export", "--root", root])
        #expect(export.status == 0)
        #expect(export.stdout.contains("domain: shop.example.test"))
        #expect(export.stdout.contains("anthropic_api_key: \"env:SBS_TEST_ANTHROPIC_KEY\""))
        try export.stdout.write(toFile: root + "/exported.yaml", atomically: true, encoding: .utf8)
        #expect(
            try await sbs(["answers", "validate", root + "/exported.yaml"], environment: testEnvironment).status == 0)
        let withSecrets = try await sbs([
            "answers", "export", "--root", root, "-o", root + "/with-secrets.yaml", "--include-secrets",
        ])
        #expect(withSecrets.status == 0)
        let mode =
            try FileManager.default.attributesOfItem(atPath: root + "/with-secrets.yaml")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aStepWhoseNeededStepWasSkippedFailsNamingIt() async throws {
        let root = scratchDirectory("notbuilt")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        let run = try await sbs(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "start-stack",
                "--skip", "preflight", "--skip", "ensure-docker", "--skip", "restore-database", "--skip",
                "start-proxy", "--skip", "obtain-certificate",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        #expect(run.status == 1)
        #expect(run.stderr.contains("Step start-stack failed"))
        #expect(run.stderr.contains("The step 'obtain-certificate' has not finished"), "\(run.stderr)")
        #expect(stateStatus(root, "start-stack") == "failed")
    }
}
