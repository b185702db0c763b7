import Deploy
import FoundationEssentials
import Glibc
import HTTPClient
import Host
import Processes
import SBSCore
import StepGraph
import Wizard

/// `ensure-docker`: the Docker engine answers and compose v2 is there. A Docker that is installed is used as it is:
/// a stopped engine is started (and enabled), and the step waits for `docker info`. Only a host without any Docker
/// gets one, from the distribution's packages (or Docker's signed apt repository; see `DockerInstallPlan`); sbs
/// never installs over a Docker the host has (Docker's `docker-ce` would make apt remove the distribution's
/// `docker.io`). Every apt-get first waits for apt's locks. It reads the host, so it runs on every run (an engine
/// stopped by a reboot is started again); the steps after it run again only when a version changes.
struct EnsureDocker: StepAction {
    static let name = "ensure-docker"
    static let observes = true
    let tools: InstallTools
    /// How long a started engine may take to answer.
    var startDeadline: Duration = .seconds(90)
    /// How long apt-get waits for another package manager (unattended-upgrades) to let go of apt's locks.
    var lockWait = PackageManagerWait()

    struct Input: Codable, Hashable, Sendable {
        var sysroot: String
        /// The answers' proxy, for dockerd's pulls (`DockerProxy`); nil without one.
        var proxy: DockerProxy?
        /// `ROOT/etc/systemd/system/docker.service.d/sbs-proxy.conf`.
        var proxyDropIn: String
        /// Whether `systemctl` may act on the drop-in (as for install-timers: not under another root on the real
        /// host, where the host's systemd does not read it).
        var systemctlAllowed: Bool
        /// answers `target: swarm`: the stack, and the address a new swarm advertises (`swarm.advertise_addr`).
        var swarm: ComposeProject?
        var advertiseAddress: String?
    }

    struct Output: Codable, Hashable, Sendable {
        var engineVersion: String
        var composeVersion: String
    }

    /// What the `docker` command says about the client, the engine and compose.
    struct Probe: Equatable {
        /// False only when there is no `docker` command.
        var installed: Bool
        /// The client's version, nil when `docker version` printed none.
        var client: String?
        /// The engine's version, nil when it does not answer `docker info`.
        var engine: String?
        /// compose v2's version, nil when `docker compose version` fails.
        var compose: String?
        /// The last line of what `docker info` (or, when there is no `docker`, the search for it) said on failure.
        var engineError = ""
        /// The same of `docker compose version`.
        var composeError = ""
    }

    /// The packages dpkg lists as installed that carry a Docker engine or a `docker` command.
    static let dockerPackages = ["docker.io", "docker-ce", "moby-engine", "podman-docker"]

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        let answers = context.answers
        return Input(
            sysroot: context.sysroot,
            proxy: answers.proxy.map { DockerProxy(url: $0.value, noProxy: OutboundProxy.direct(answers)) },
            proxyDropIn: context.layout.resolve(DockerProxy.dropInDirectory) + "/" + DockerProxy.dropInName,
            systemctlAllowed: context.layout.root == "/" || context.sysroot != "/",
            swarm: answers.target == .swarm ? context.project : nil,
            advertiseAddress: answers.target == .swarm ? answers.swarm.advertiseAddress : nil)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let sysroot = Sysroot(input.sysroot)
        var found = await probe()
        if !found.installed || found.compose == nil {
            let detector = HostDetector(sysroot: sysroot, runner: tools.commands)
            let os = detector.detectOS()
            let packages = await installedDockerPackages()
            if found.installed || !packages.isEmpty {
                throw Self.existingDocker(found, packages: packages, os: os)
            }
            let plan = try DockerInstallPlan.steps(for: os, architecture: detector.detectArchitecture())
            log.progress("Docker is not installed: installing it on \(os.prettyName) (\(plan.count) steps)")
            for action in plan {
                try await perform(action, sysroot: input.sysroot, log: log, remedy: Self.installRemedy)
            }
            found = await probe()
            guard found.installed else {
                throw UserError(
                    "Docker was installed, but there is no `docker` command: \(found.engineError).",
                    remedy: "Check `apt-cache policy docker.io docker-ce` and the PATH, and fix what is missing.")
            }
        }
        let systemd = sysroot.exists("/run/systemd/system")
        var started: PlannedAction?
        if found.installed && found.engine == nil {
            let start = DockerInstallPlan.start(systemd: systemd)
            log.progress(
                "Docker\(found.client.map { " " + $0 } ?? "") is installed but its engine does not answer (\(found.engineError)): starting it"
            )
            try await perform(start, sysroot: input.sysroot, log: log, remedy: Self.startRemedy(systemd: systemd))
            started = start
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: startDeadline)
            while found.engine == nil && clock.now < deadline {
                try await Task.sleep(for: .seconds(1))
                found = await probe()
            }
        }
        guard let engine = found.engine else {
            throw UserError(
                "The Docker engine does not answer `docker info`\(started.map { " \(startDeadline.components.seconds) s after `\($0)`" } ?? ""): \(found.engineError).",
                remedy: Self.startRemedy(systemd: systemd))
        }
        guard let compose = found.compose else {
            throw UserError(
                "`docker compose version` fails: \(found.composeError).",
                remedy: "Check `docker compose version` and fix what it reports.")
        }
        log.progress("Docker engine \(engine), compose \(compose)")
        try await applyProxy(input, systemd: systemd, log: log)
        if let project = input.swarm {
            // A swarm's state outlives the engine's restarts: after the first run this only checks membership.
            let swarm = SwarmStack(project: project, runner: tools.commands) { log.progress($0) }
            log.progress(
                "Swarm: this engine is " + (try await swarm.ensureManager(advertiseAddress: input.advertiseAddress)))
            let labelled = try await swarm.ensurePlacementLabels()
            if !labelled.isEmpty {
                log.progress("no node carried \(labelled.joined(separator: ", ")): put on this node")
            }
        }
        return StepResult(Output(engineVersion: engine, composeVersion: compose))
    }

    /// Gives dockerd the answers' proxy through its systemd drop-in (or takes it away when the answers no longer
    /// name one): written when what it sets differs, then `systemctl daemon-reload` and a restart of docker (the
    /// stack's containers stop and come back with it), and `docker info` must then show the proxy. Where sbs may
    /// not restart dockerd (no systemd, another root), the drop-in is written and the step says what to do.
    func applyProxy(_ input: Input, systemd: Bool, log: StepLog) async throws {
        let path = input.proxyDropIn
        let present = try AtomicFile.readText(path, limit: .config)
        let wanted = input.proxy?.variables ?? [:]
        let changed = present.map(DockerProxy.variables(inDropIn:)) ?? [:] != wanted
        if changed {
            if let proxy = input.proxy {
                try AtomicFile.makeDirectories(AtomicFile.parentDirectory(of: path), mode: 0o755)
                try AtomicFile.write(proxy.dropIn, to: path, mode: 0o644)
                log.progress("dockerd pulls through the proxy \(proxy.url): \(path) written")
            } else {
                if unlink(path) != 0 && errno != ENOENT { throw AtomicFile.systemError("unlink", path) }
                log.progress("the answers name no proxy any more: \(path) removed")
            }
        }
        guard input.proxy != nil || changed else { return }
        let manage = systemd && input.systemctlAllowed
        if changed && manage {
            log.progress("restarting dockerd so that it reads its proxy (the stack's containers restart with it)")
            for argv in [["systemctl", "daemon-reload"], ["systemctl", "restart", "docker"]] {
                try await perform(
                    .run(argv, timeout: .seconds(180)), sysroot: input.sysroot, log: log,
                    remedy: Self.startRemedy(systemd: true))
            }
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: startDeadline)
            while await probe().engine == nil && clock.now < deadline { try await Task.sleep(for: .seconds(1)) }
        }
        let used = await engineProxy()
        let expected = input.proxy?.url ?? ""
        guard used != expected else {
            if !expected.isEmpty { log.progress("dockerd's proxy: \(expected)") }
            return
        }
        let seen = used.map { $0.isEmpty ? "none" : $0 } ?? "unknown (`docker info` did not say)"
        if manage {
            throw UserError(
                "After a restart with \(path), dockerd's proxy is \(seen), not \(expected.isEmpty ? "none" : expected).",
                remedy:
                    "Look for another drop-in that sets HTTP_PROXY or HTTPS_PROXY (`systemctl cat docker`), fix it, and run sbs again."
            )
        }
        log.progress(
            "dockerd's proxy is \(seen), not \(expected.isEmpty ? "none" : expected), and sbs does not restart it here (\(systemd ? "\(path) is not where this host's systemd reads it" : "systemd does not run dockerd")): start dockerd with HTTPS_PROXY=\(expected) HTTP_PROXY=\(expected) NO_PROXY=\(input.proxy?.variables["NO_PROXY"] ?? "") in its environment, or images cannot be pulled through the proxy"
        )
    }

    /// The HTTPS proxy the engine uses (`docker info`), "" for none, nil when it does not say.
    func engineProxy() async -> String? {
        guard
            let result = try? await tools.commands.run(
                ["docker", "info", "--format", "{{.HTTPSProxy}}"], timeout: .seconds(20)),
            result.status == 0
        else { return nil }
        return result.stdout.trimmed
    }

    /// The client, engine and compose versions. `docker version` exits 1 when the engine does not answer, after
    /// printing the client's version: that is an installed Docker whose engine is stopped, not a missing one. Only
    /// a `docker` that cannot be found (status 127) is no Docker.
    func probe() async -> Probe {
        func run(_ argv: [String]) async -> (CommandResult?, String) {
            do {
                let result = try await tools.commands.run(argv, timeout: .seconds(20))
                let error = result.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(result.status)"
                return (result, result.status == 0 ? "" : error)
            } catch {
                return (nil, error.message)
            }
        }
        func version(_ result: CommandResult?) -> String? {
            guard let result, result.status == 0 else { return nil }
            return result.stdout.trimmed.isEmpty ? nil : result.stdout.trimmed
        }
        let (client, clientError) = await run(["docker", "version", "--format", "{{.Client.Version}}"])
        if client?.status == 127 { return Probe(installed: false, engineError: clientError) }
        let clientVersion = client.flatMap { $0.stdout.split(separator: "\n").first.map { String($0).trimmed } }
        let (engine, engineError) = await run(["docker", "info", "--format", "{{.ServerVersion}}"])
        let (compose, composeError) = await run(["docker", "compose", "version", "--short"])
        return Probe(
            installed: true, client: clientVersion.flatMap { $0.isEmpty ? nil : $0 }, engine: version(engine),
            compose: version(compose), engineError: engineError, composeError: composeError)
    }

    /// The packages of `dockerPackages` that dpkg lists as installed (none where there is no dpkg).
    func installedDockerPackages() async -> [String] {
        // dpkg-query exits 1 when it knows some of the names not at all, and still lists the others.
        guard
            let result = try? await tools.commands.run(
                ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n"] + Self.dockerPackages,
                timeout: .seconds(30))
        else { return [] }
        return result.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            // The second letter of the abbreviated status: n (not installed) and c (only its configuration
            // files left) mean no Docker of that package is on the host.
            guard fields.count >= 2, let state = fields[1].dropFirst().first, state != "n", state != "c" else {
                return nil
            }
            return String(fields[0])
        }
    }

    /// The refusal to install Docker over the one the host has: what was found, and what to do instead.
    static func existingDocker(_ found: Probe, packages: [String], os: OSFacts) -> UserError {
        var parts: [String] = []
        if !packages.isEmpty { parts.append("dpkg lists \(packages.joined(separator: ", ")) as installed") }
        if found.installed {
            parts.append("the `docker` command is there (client \(found.client ?? "of unknown version"))")
        }
        let missing =
            found.installed
            ? "compose v2 is missing (`docker compose version`: \(found.composeError))"
            : "there is no `docker` command"
        let version = Double(os.versionID.split(separator: ".").prefix(2).joined(separator: ".")) ?? 0
        let remedy: String
        if !found.installed {
            remedy =
                "Repair that installation (`apt-get install -f`; docker-ce's client is the package docker-ce-cli) or remove it, then run sbs again."
        } else if packages.contains("docker-ce") {
            remedy =
                "Install the compose plugin from the repository docker-ce came from (`apt-get install docker-compose-plugin`), then run sbs again."
        } else if packages.contains("docker.io") && os.id == "ubuntu" && version >= 22.04 {
            remedy = "Install Ubuntu's compose v2 (`apt-get install docker-compose-v2`), then run sbs again."
        } else if packages.contains("docker.io") && os.id == "debian" && version >= 13 {
            remedy = "Install Debian's compose v2 (`apt-get install docker-compose`), then run sbs again."
        } else {
            remedy =
                "Install the compose v2 plugin for this Docker by hand (https://docs.docker.com/compose/install/linux/), or remove this Docker so that sbs installs Docker's own packages; then run sbs again."
        }
        return UserError(
            "This host already has Docker (\(parts.joined(separator: "; "))), but \(missing). sbs does not install Docker over an existing one (Docker's docker-ce and the distribution's docker.io conflict: apt would remove one for the other).",
            remedy: remedy)
    }

    static let installRemedy =
        "Fix the cause (network, package sources), or install Docker by hand (https://docs.docker.com/engine/install/)."

    /// What to run to see why the engine does not start.
    static func startRemedy(systemd: Bool) -> String {
        systemd
            ? "See why with `systemctl status docker` and `journalctl -u docker -n 50`, fix it, and check that `docker info` answers."
            : "See why with `service docker status` and /var/log/docker.log, fix it, and check that `docker info` answers."
    }

    func perform(_ action: PlannedAction, sysroot: String, log: StepLog, remedy: String) async throws {
        log.progress(action.description)
        switch action {
        case .run(let argv, let timeout):
            try await lockWait.before(argv, sysroot: Sysroot(sysroot)) { log.progress($0) }
            let result = try await tools.commands.run(argv, timeout: timeout)
            guard result.status == 0 else {
                let tail = (result.stderr + result.stdout).split(separator: "\n").suffix(3).joined(separator: " | ")
                throw UserError(
                    "`\(action)` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \(tail)",
                    remedy: remedy)
            }
        case .write(let path, let text, let mode):
            try AtomicFile.write(text, to: sysroot == "/" ? path : sysroot + path, mode: mode_t(mode))
        }
    }
}
