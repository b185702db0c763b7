import Foundation
import Host
import Processes
import SBSCore
import StepGraph
import TestSupport
import Testing

@testable import Installer

/// ensure-docker's decisions on a fixture host whose `docker`, `systemctl` and `service` are scripts: they answer
/// only the calls the step is meant to make (anything else exits 2), and record each call. The host's own Docker
/// is never touched.
struct FixtureDockerHost {
    let root: String

    init(engineUp: Bool, docker: Bool = true, systemd: Bool = true) throws {
        root = Scratch.path("docker")
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/usr/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
        if systemd { try fm.createDirectory(atPath: root + "/run/systemd/system", withIntermediateDirectories: true) }
        try "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
            .write(toFile: root + "/etc-os-release", atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/proc/sys/kernel", withIntermediateDirectories: true)
        try "x86_64\n".write(toFile: root + "/proc/sys/kernel/arch", atomically: true, encoding: .utf8)
        try fm.moveItem(atPath: root + "/etc-os-release", toPath: root + "/etc/os-release")
        if engineUp { fm.createFile(atPath: root + "/state/engine-up", contents: nil) }
        let log = "echo \"$(basename \"$0\") $*\" >> \"\(root)/state/calls\""
        if docker {
            try script(
                "docker",
                """
                \(log)
                case "$*" in
                  "version --format {{.Client.Version}}") echo 28.2.2 ;;
                  "info --format {{.ServerVersion}}") if [ -e "\(root)/state/engine-up" ]; then echo 28.2.2; else echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1; fi ;;
                  "compose version --short") echo 2.40.3 ;;
                  *) echo "unexpected docker call: $*" >&2; exit 2 ;;
                esac
                """)
        }
        try script(
            "systemctl",
            """
            \(log)
            [ "$*" = "enable --now docker" ] || exit 2
            touch "\(root)/state/engine-up"
            """)
        try script("service", "\(log)\nexit 2")
    }

    func script(_ name: String, _ body: String) throws {
        let path = root + "/usr/bin/" + name
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    var calls: [String] {
        ((try? String(contentsOfFile: root + "/state/calls", encoding: .utf8)) ?? "").split(separator: "\n").map(
            String.init)
    }

    func action() throws -> EnsureDocker {
        let tools = InstallTools(
            commands: SystemCommandRunner(searchPath: [root + "/usr/bin"]), secrets: AnswerSecretValues(),
            digester: try SecretDigester.load(Layout(root: root + "/sbs"), create: false))
        return EnsureDocker(tools: tools, startDeadline: .seconds(5))
    }
}

@Suite struct EnsureDockerDecisions {
    func log() -> StepLog { StepLog(step: "ensure-docker", runLog: RunLog()) }

    @Test func aRunningEngineIsOnlyAsked() async throws {
        let host = try FixtureDockerHost(engineUp: true)
        let result = try await host.action().run(.init(sysroot: host.root), log: log())
        #expect(result.output == .init(engineVersion: "28.2.2", composeVersion: "2.40.3"))
        #expect(!host.calls.contains { $0.hasPrefix("systemctl") })
    }

    @Test func aStoppedEngineIsStartedAndEnabledThenAwaited() async throws {
        let host = try FixtureDockerHost(engineUp: false)
        let result = try await host.action().run(.init(sysroot: host.root), log: log())
        #expect(result.output.engineVersion == "28.2.2")
        #expect(host.calls.contains("systemctl enable --now docker"))
        #expect(host.calls.last == "docker compose version --short")
    }

    @Test func anEngineThatNeverAnswersFailsWithWhatItSaid() async throws {
        let host = try FixtureDockerHost(engineUp: false, systemd: false)
        let error = await #expect(throws: UserError.self) {
            try await host.action().run(.init(sysroot: host.root), log: log())
        }
        // Without systemd the SysV script is used; this one fails, and the step says so.
        #expect(host.calls.contains("service docker start"))
        #expect(
            error?.message.contains("`service docker start` failed (exit 2)") == true, "\(String(describing: error))")
    }

    @Test func noDockerStartsTheInstallPlanAndFailsClosedWhereItCannotRun() async throws {
        let host = try FixtureDockerHost(engineUp: false, docker: false)
        let error = await #expect(throws: UserError.self) {
            try await host.action().run(.init(sysroot: host.root), log: log())
        }
        // The fixture has no apt-get: the first command of the Debian plan cannot run, and nothing else is tried.
        #expect(
            error?.message.hasPrefix("`env DEBIAN_FRONTEND=noninteractive apt-get update -q` failed (exit 127)")
                == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: host.root + "/etc/apt/sources.list.d/docker.list"))
    }
}
