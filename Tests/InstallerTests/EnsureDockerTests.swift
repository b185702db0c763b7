import Deploy
import Foundation
import Host
import Processes
import SBSCore
import StepGraph
import Synchronization
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
                  "info --format {{.HTTPSProxy}}") cat "\(root)/state/proxy" 2>/dev/null; echo ;;
                  *) echo "unexpected docker call: $*" >&2; exit 2 ;;
                esac
                """)
        }
        try script(
            "systemctl",
            """
            \(log)
            case "$*" in
              "enable --now docker") touch "\(root)/state/engine-up" ;;
              "daemon-reload") ;;
              # dockerd reads its proxy from the drop-in when it starts (HTTPS_PROXY, as systemd passes it).
              "restart docker") sed -n 's/^Environment="HTTPS_PROXY=\\(.*\\)"$/\\1/p' "\(root)\(Self.dropIn)" >"\(root)/state/proxy" 2>/dev/null || true ;;
              *) exit 2 ;;
            esac
            """)
        try script("service", "\(log)\nexit 2")
    }

    static let dropIn = DockerProxy.dropInDirectory + "/" + DockerProxy.dropInName

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

extension EnsureDocker.Input {
    /// The step's input on a fixture host: the drop-in under its root, systemctl allowed (the fixture's own).
    static func fixture(_ root: String, proxy: DockerProxy? = nil) -> Self {
        .init(sysroot: root, proxy: proxy, proxyDropIn: root + FixtureDockerHost.dropIn, systemctlAllowed: true)
    }
}

@Suite struct EnsureDockerDecisions {
    func log() -> StepLog { StepLog(step: "ensure-docker", runLog: RunLog()) }

    @Test func aRunningEngineIsOnlyAsked() async throws {
        let host = try FixtureDockerHost(engineUp: true)
        let result = try await host.action().run(.fixture(host.root), log: log())
        #expect(result.output == .init(engineVersion: "28.2.2", composeVersion: "2.40.3"))
        #expect(!host.calls.contains { $0.hasPrefix("systemctl") })
    }

    /// The answers' proxy reaches dockerd through its drop-in: written, then daemon-reload and a restart, and
    /// `docker info` must show it; the same answers again change nothing; answers without it remove the drop-in.
    @Test func theAnswersProxyReachesDockerdOnceAndGoesWhenTheAnswersDropIt() async throws {
        let host = try FixtureDockerHost(engineUp: true)
        let proxy = DockerProxy(url: "http://proxy.office.lan:3128", noProxy: ["intranet.lan", "localhost", "app-db"])
        let path = host.root + FixtureDockerHost.dropIn
        _ = try await host.action().run(.fixture(host.root, proxy: proxy), log: log())
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            DockerProxy.variables(inDropIn: written) == [
                "HTTP_PROXY": "http://proxy.office.lan:3128", "HTTPS_PROXY": "http://proxy.office.lan:3128",
                "NO_PROXY": "intranet.lan,localhost,app-db",
            ])
        #expect(
            host.calls.filter { $0.hasPrefix("systemctl") } == ["systemctl daemon-reload", "systemctl restart docker"])

        let before = host.calls.count
        _ = try await host.action().run(.fixture(host.root, proxy: proxy), log: log())
        #expect(!host.calls.dropFirst(before).contains { $0.hasPrefix("systemctl") }, "restarted without a change")

        _ = try await host.action().run(.fixture(host.root), log: log())
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(host.calls.filter { $0 == "systemctl restart docker" }.count == 2)
    }

    /// A dockerd that still shows another proxy after the restart (another drop-in wins) fails the step naming both.
    @Test func aDockerdThatIgnoresTheDropInFailsTheStep() async throws {
        let host = try FixtureDockerHost(engineUp: true)
        try host.script(
            "systemctl", "case \"$*\" in restart*) echo http://other.lan:8080 > \(host.root)/state/proxy ;; esac")
        let error = await #expect(throws: UserError.self) {
            try await host.action().run(
                .fixture(host.root, proxy: DockerProxy(url: "http://proxy.office.lan:3128", noProxy: [])), log: log())
        }
        #expect(
            error?.message.contains("dockerd's proxy is http://other.lan:8080, not http://proxy.office.lan:3128")
                == true)
    }

    /// Where sbs may not restart dockerd, the drop-in is written and the step says how to start it.
    @Test func withoutSystemdTheStepSaysHowToGiveDockerdTheProxy() async throws {
        let host = try FixtureDockerHost(engineUp: true, systemd: false)
        let shown = ShownLines()
        _ = try await host.action().run(
            .fixture(host.root, proxy: DockerProxy(url: "http://proxy.office.lan:3128", noProxy: ["localhost"])),
            log: shown.log("ensure-docker"))
        #expect(!host.calls.contains { $0.hasPrefix("systemctl") })
        #expect(shown.text.contains("start dockerd with HTTPS_PROXY=http://proxy.office.lan:3128"), "\(shown.text)")
    }

    @Test func aStoppedEngineIsStartedAndEnabledThenAwaited() async throws {
        let host = try FixtureDockerHost(engineUp: false)
        let result = try await host.action().run(.fixture(host.root), log: log())
        #expect(result.output.engineVersion == "28.2.2")
        #expect(host.calls.contains("systemctl enable --now docker"))
        #expect(host.calls.last == "docker compose version --short")
    }

    @Test func anEngineThatNeverAnswersFailsWithWhatItSaid() async throws {
        let host = try FixtureDockerHost(engineUp: false, systemd: false)
        let error = await #expect(throws: UserError.self) {
            try await host.action().run(.fixture(host.root), log: log())
        }
        // Without systemd the SysV script is used; this one fails, and the step says so.
        #expect(host.calls.contains("service docker start"))
        #expect(
            error?.message.contains("`service docker start` failed (exit 2)") == true, "\(String(describing: error))")
    }

    @Test func noDockerStartsTheInstallPlanAndFailsClosedWhereItCannotRun() async throws {
        let host = try FixtureDockerHost(engineUp: false, docker: false)
        let error = await #expect(throws: UserError.self) {
            try await host.action().run(.fixture(host.root), log: log())
        }
        // The fixture has no apt-get: the first command of the Debian plan cannot run, and nothing else is tried.
        #expect(
            error?.message.hasPrefix("`env DEBIAN_FRONTEND=noninteractive apt-get update -q` failed (exit 127)")
                == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: host.root + "/etc/apt/sources.list.d/docker.list"))
    }
}

/// Runs `docker` for real (this machine's client, pointed by DOCKER_HOST at a socket where nothing answers, with a
/// compose plugin of the test's own in DOCKER_CONFIG) and every other command through `others`, which fails closed:
/// starting an engine and apt cannot be done for real here.
struct RealDockerClient: CommandRunner {
    let docker: SystemCommandRunner
    let others: any CommandRunner

    /// - Parameter folder: holds the socket path (nothing listens there) and the client's configuration.
    init(folder: String, others: any CommandRunner) throws {
        let plugins = folder + "/config/cli-plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        // A stand-in for compose v2, which this machine does not have: the client's plugin protocol is the real one.
        try """
        #!/bin/sh
        case "$1 $2 $3" in
          "docker-cli-plugin-metadata  ") echo '{"SchemaVersion":"0.1.0","Vendor":"sbs tests","Version":"v2.40.3"}' ;;
          "compose version --short") echo 2.40.3 ;;
          *) echo "unexpected compose call: $*" >&2; exit 2 ;;
        esac
        """.write(toFile: plugins + "/docker-compose", atomically: true, encoding: .utf8)
        chmod(plugins + "/docker-compose", 0o755)
        docker = SystemCommandRunner(environment: [
            "DOCKER_HOST": "unix://\(folder)/nothing.sock", "DOCKER_CONFIG": folder + "/config",
        ])
        self.others = others
    }

    func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult {
        argv.first == "docker"
            ? try await docker.run(argv, timeout: timeout) : try await others.run(argv, timeout: timeout)
    }
}

/// ensure-docker with the real `docker` client of this machine and no engine behind it: an installed Docker whose
/// engine is stopped (`docker version` exits 1 after printing the client's version) is started, never reinstalled.
@Suite(.requires("docker", install: "apt-get install -y --no-install-recommends docker.io (the client only is used)"))
struct EnsureDockerWithTheRealClient {
    func action(_ runner: any CommandRunner, root: String) throws -> EnsureDocker {
        let tools = InstallTools(
            commands: runner, secrets: AnswerSecretValues(),
            digester: try SecretDigester.load(Layout(root: root + "/sbs"), create: false))
        return EnsureDocker(tools: tools, startDeadline: .seconds(2))
    }

    @Test func aClientWhoseEngineDoesNotAnswerReadsAsInstalledAndStopped() async throws {
        let folder = try Scratch.folder("docker-client")
        let runner = try RealDockerClient(folder: folder, others: RefusingRunner())
        let found = try await action(runner, root: folder).probe()
        #expect(found.installed, "\(found)")
        #expect(found.client?.first?.isNumber == true, "\(found)")
        #expect(found.engine == nil)
        #expect(found.compose == "2.40.3", "\(found)")
        #expect(found.engineError.contains("Cannot connect to the Docker daemon"), "\(found)")
        #expect(found.engineError.contains(folder + "/nothing.sock"), "\(found)")
    }

    @Test func aStoppedEngineIsStartedAndAwaitedAndNothingIsInstalled() async throws {
        let folder = try Scratch.folder("docker-stopped")
        try FileManager.default.createDirectory(
            atPath: folder + "/run/systemd/system", withIntermediateDirectories: true)
        // Starting the engine is the only command besides docker's; apt or dpkg would fail the test.
        let others = ScriptedRunner([["systemctl", "enable", "--now", "docker"]: .ok()])
        let runner = try RealDockerClient(folder: folder, others: others)
        let shown = ShownLines()
        let error = await #expect(throws: UserError.self) {
            try await action(runner, root: folder).run(.fixture(folder), log: shown.log("ensure-docker"))
        }
        #expect(others.calls == [["systemctl", "enable", "--now", "docker"]])
        #expect(
            error?.message.hasPrefix(
                "The Docker engine does not answer `docker info` 2 s after `systemctl enable --now docker`: Cannot connect to the Docker daemon at unix://\(folder)/nothing.sock"
            ) == true, "\(String(describing: error))")
        #expect(error?.remedy?.contains("`systemctl status docker` and `journalctl -u docker -n 50`") == true)
        #expect(shown.text.contains("is installed but its engine does not answer"), "\(shown.text)")
        #expect(!shown.text.contains("installing"), "\(shown.text)")
    }
}

/// A Docker the host already has is never replaced: with compose v2 missing, or dpkg listing a Docker package
/// without a `docker` command, the step says what it found and what to do, and runs no apt-get.
@Suite struct EnsureDockerNeverReplacesADocker {
    static let version = ["docker", "version", "--format", "{{.Client.Version}}"]
    static let info = ["docker", "info", "--format", "{{.ServerVersion}}"]
    static let compose = ["docker", "compose", "version", "--short"]
    static let dpkg = [
        "dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", "docker.io", "docker-ce", "moby-engine",
        "podman-docker",
    ]
    static let apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]

    func host(_ osRelease: String) throws -> String {
        let root = try Scratch.folder("docker-host")
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/proc/sys/kernel", withIntermediateDirectories: true)
        try osRelease.write(toFile: root + "/etc/os-release", atomically: true, encoding: .utf8)
        try "x86_64\n".write(toFile: root + "/proc/sys/kernel/arch", atomically: true, encoding: .utf8)
        return root
    }

    static let bookworm =
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"

    func action(_ runner: any CommandRunner, lockWait: PackageManagerWait = PackageManagerWait()) throws
        -> EnsureDocker
    {
        EnsureDocker(
            tools: InstallTools(
                commands: runner, secrets: AnswerSecretValues(),
                digester: try SecretDigester.load(Layout(root: try Scratch.folder("docker-keys")), create: false)),
            startDeadline: .seconds(2), lockWait: lockWait)
    }

    @Test func theDistributionsDockerWithoutComposeIsKeptAndTheUserToldWhatToInstall() async throws {
        let runner = ScriptedRunner([
            Self.version: .ok("20.10.24+dfsg1\n"),
            Self.info: .ok("20.10.24+dfsg1\n"),
            Self.compose: .exit(125, stderr: "unknown flag: --short\n\nUsage:  docker [OPTIONS] COMMAND [ARG...]"),
            Self.dpkg: .exit(1, stderr: "dpkg-query: no packages found matching docker-ce", stdout: "docker.io ii \n"),
        ])
        let error = await #expect(throws: UserError.self) {
            try await action(runner).run(
                .fixture(try host(Self.bookworm)), log: ShownLines().log("ensure-docker"))
        }
        #expect(
            error?.message
                == "This host already has Docker (dpkg lists docker.io as installed; the `docker` command is there (client 20.10.24+dfsg1)), but compose v2 is missing (`docker compose version`: Usage:  docker [OPTIONS] COMMAND [ARG...]). sbs does not install Docker over an existing one (Docker's docker-ce and the distribution's docker.io conflict: apt would remove one for the other).",
            "\(String(describing: error))")
        #expect(error?.remedy?.contains("https://docs.docker.com/compose/install/linux/") == true)
        #expect(runner.calls == [Self.version, Self.info, Self.compose, Self.dpkg])
    }

    @Test func onUbuntuTheRemedyNamesUbuntusComposePackage() async throws {
        let runner = ScriptedRunner([
            Self.version: .exit(1, stderr: "Cannot connect to the Docker daemon", stdout: "24.0.7\n"),
            Self.info: .exit(1, stderr: "Cannot connect to the Docker daemon"),
            Self.compose: .exit(1, stderr: "docker: 'compose' is not a docker command."),
            Self.dpkg: .ok("docker.io ii \ndocker-ce un \n"),
        ])
        let ubuntu =
            "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\nPRETTY_NAME=\"Ubuntu 24.04\"\n"
        let error = await #expect(throws: UserError.self) {
            try await action(runner).run(.fixture(try host(ubuntu)), log: ShownLines().log("ensure-docker"))
        }
        #expect(error?.message.contains("dpkg lists docker.io as installed;") == true, "\(String(describing: error))")
        #expect(
            error?.remedy == "Install Ubuntu's compose v2 (`apt-get install docker-compose-v2`), then run sbs again.")
    }

    @Test func aDockerPackageWithoutItsCommandIsNotInstalledOver() async throws {
        let runner = ScriptedRunner([
            Self.version: .exit(127, stderr: "docker: command not found"),
            Self.dpkg: .ok("docker-ce ii \n"),
        ])
        let error = await #expect(throws: UserError.self) {
            try await action(runner).run(
                .fixture(try host(Self.bookworm)), log: ShownLines().log("ensure-docker"))
        }
        #expect(
            error?.message.hasPrefix(
                "This host already has Docker (dpkg lists docker-ce as installed), but there is no `docker` command.")
                == true, "\(String(describing: error))")
        #expect(error?.remedy?.contains("docker-ce-cli") == true)
        #expect(runner.calls == [Self.version, Self.dpkg])
    }

    @Test func aPackageRemovedButForItsConfigurationIsNoDocker() async throws {
        // `rc`: removed, its configuration files left. The install plan starts (its first apt-get fails here).
        let runner = ScriptedRunner([
            Self.version: .exit(127, stderr: "docker: command not found"),
            Self.dpkg: .exit(
                1, stderr: "dpkg-query: no packages found matching moby-engine", stdout: "docker.io rc \n"),
            Self.apt + ["update", "-q"]: .exit(100, stderr: "E: The repository is not signed."),
        ])
        let error = await #expect(throws: UserError.self) {
            try await action(runner).run(
                .fixture(try host(Self.bookworm)), log: ShownLines().log("ensure-docker"))
        }
        #expect(
            error?.message.hasPrefix("`env DEBIAN_FRONTEND=noninteractive apt-get update -q` failed (exit 100)")
                == true,
            "\(String(describing: error))")
        #expect(runner.unused.isEmpty)
    }
}

/// Every apt-get of ensure-docker and ensure-restic waits, as preflight does, while another package manager holds
/// apt's locks: a real lock (fcntl, on the sysroot's lock file) that is let go while the step waits, or never.
@Suite struct PackageLockWaitBeforeAptGet {
    /// An apt lock file under a fixture host, held by this test through a descriptor of its own.
    final class HeldLock: Sendable {
        let path: String
        let fd: Int32

        init(root: String, lock: String = "/var/lib/dpkg/lock-frontend") throws {
            path = root + lock
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            fd = open(path, O_RDWR | O_CREAT, 0o644)
            try #require(fd >= 0)
            try #require(set(Int16(F_WRLCK)))
        }

        deinit { close(fd) }

        /// An open-file-description lock: the probe, through a descriptor of its own, sees it as another holder.
        func set(_ type: Int16) -> Bool {
            var lock = flock()
            lock.l_type = type
            lock.l_whence = Int16(SEEK_SET)
            return fcntl(fd, 37 /* F_OFD_SETLK */, &lock) == 0
        }

        func release() { _ = set(Int16(F_UNLCK)) }
        var held: Bool { FcntlLockProbe().holder(of: path) != nil }
    }

    /// A clock that does not sleep and lets go of `lock` at its `after`-th sleep.
    struct ReleasingClock: Clock {
        typealias Duration = Swift.Duration
        typealias Instant = ImmediateClock.Instant
        final class Count: Sendable { let value = Mutex(0) }
        let lock: HeldLock
        let after: Int
        let count = Count()
        var sleeps: Int { count.value.withLock { $0 } }

        var now: Instant { ImmediateClock().now }
        var minimumResolution: Duration { .zero }
        func sleep(until deadline: Instant, tolerance: Duration?) async throws {
            if count.value.withLock({ count in
                count += 1
                return count == after
            }) {
                lock.release()
            }
            try await ImmediateClock().sleep(until: deadline, tolerance: tolerance)
        }
    }

    /// Notes, at each command that takes apt's locks, whether the lock was still held, then runs it through `next`.
    final class LockWitness: CommandRunner {
        let next: any CommandRunner
        let lock: HeldLock
        let heldAtCommand = Mutex<[Bool]>([])
        init(_ next: any CommandRunner, lock: HeldLock) {
            self.next = next
            self.lock = lock
        }
        func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult {
            if PackageManagerWait.takesPackageLocks(argv) { heldAtCommand.withLock { $0.append(lock.held) } }
            return try await next.run(argv, timeout: timeout)
        }
    }

    typealias Docker = EnsureDockerNeverReplacesADocker

    @Test func ensureDockerWaitsForTheLockThenRunsAptGet() async throws {
        let root = try Docker().host(Docker.bookworm)
        let lock = try HeldLock(root: root)
        let script = ScriptedRunner([
            Docker.version: .exit(127, stderr: "docker: command not found"),
            Docker.dpkg: .exit(1, stderr: "dpkg-query: no packages found matching docker.io"),
            // The first apt-get ends the run: what matters is when it ran.
            Docker.apt + ["update", "-q"]: .exit(100, stderr: "E: stop here"),
        ])
        let runner = LockWitness(script, lock: lock)
        let clock = ReleasingClock(lock: lock, after: 3)
        let shown = ShownLines()
        let error = await #expect(throws: UserError.self) {
            try await Docker().action(runner, lockWait: PackageManagerWait(clock: clock)).run(
                .fixture(root), log: shown.log("ensure-docker"))
        }
        #expect(error?.message.contains("apt-get update -q` failed (exit 100)") == true, "\(String(describing: error))")
        #expect(runner.heldAtCommand.withLock { $0 } == [false])
        #expect(clock.sleeps == 3)
        #expect(
            shown.text.contains("Waiting for the package manager: another process holds /var/lib/dpkg/lock-frontend"),
            "\(shown.text)")
        #expect(script.unused.isEmpty)
    }

    @Test func ensureDockerGivesUpAfterItsTimeoutNamingTheLock() async throws {
        let root = try Docker().host(Docker.bookworm)
        let lock = try HeldLock(root: root, lock: "/var/lib/apt/lists/lock")
        // No apt-get in the script: one run while the lock is held would fail the test.
        let script = ScriptedRunner([
            Docker.version: .exit(127, stderr: "docker: command not found"),
            Docker.dpkg: .exit(1, stderr: "dpkg-query: no packages found matching docker.io"),
        ])
        let error = await #expect(throws: UserError.self) {
            try await Docker().action(
                script, lockWait: PackageManagerWait(timeout: .seconds(30), clock: ImmediateClock())
            )
            .run(.fixture(root), log: ShownLines().log("ensure-docker"))
        }
        #expect(
            error?.message
                == "The package manager is still busy after 30 s: another process holds /var/lib/apt/lists/lock.",
            "\(String(describing: error))")
        #expect(error?.remedy?.contains("Do not delete the lock file") == true)
        #expect(lock.held)
        #expect(script.calls == [Docker.version, Docker.dpkg])
    }

    @Test func ensureResticWaitsForTheLockThenInstalls() async throws {
        let root = try Docker().host(Docker.bookworm)
        let lock = try HeldLock(root: root, lock: "/var/lib/dpkg/lock")
        let version = "restic 0.14.0 compiled with go1.19.8 on linux/amd64"
        let script = ScriptedRunner([
            ["restic", "version"]: .exit(127, stderr: "restic: command not found"),
            Docker.apt + ["update", "-q"]: .ok(),
            Docker.apt + ["install", "-y", "-q", "restic"]: .ok().changing(["restic", "version"], to: .ok(version)),
        ])
        let runner = LockWitness(script, lock: lock)
        let clock = ReleasingClock(lock: lock, after: 2)
        var action = try EnsureResticDecisions().action(runner)
        action.lockWait = PackageManagerWait(clock: clock)
        let shown = ShownLines()
        let result = try await action.run(.init(sysroot: root), log: shown.log("ensure-restic"))
        #expect(result.output.version == version)
        #expect(runner.heldAtCommand.withLock { $0 } == [false, false])
        #expect(clock.sleeps == 2)
        #expect(shown.text.contains("another process holds /var/lib/dpkg/lock"), "\(shown.text)")
        #expect(script.unused.isEmpty)
    }
}
