import Deploy
import FoundationEssentials
import Glibc
import Host
import Processes
import SBSCore
import StepGraph

/// `ensure-docker`: the Docker engine answers and compose v2 is there; when they are missing they are installed
/// with the distribution's packages (or Docker's signed apt repository; see `DockerInstallPlan`), the service is
/// enabled and started, and the step waits for `docker info`. It reads the host, so it runs on every run (an
/// engine stopped by a reboot is started again); the steps after it run again only when a version changes.
struct EnsureDocker: StepAction {
    static let name = "ensure-docker"
    static let observes = true
    let tools: InstallTools
    /// How long a started engine may take to answer.
    var startDeadline: Duration = .seconds(90)

    struct Input: Codable, Hashable, Sendable {
        var sysroot: String
    }

    struct Output: Codable, Hashable, Sendable {
        var engineVersion: String
        var composeVersion: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(sysroot: context.sysroot)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let sysroot = Sysroot(input.sysroot)
        var found = await probe()
        if found.client == nil || found.compose == nil {
            let detector = HostDetector(sysroot: sysroot, runner: tools.commands)
            let os = detector.detectOS()
            let plan = try DockerInstallPlan.steps(for: os, architecture: detector.detectArchitecture())
            log.progress(
                "Docker \(found.client == nil ? "is not installed" : "has no compose v2"): installing it on \(os.prettyName) (\(plan.count) steps)"
            )
            for action in plan { try await perform(action, sysroot: input.sysroot, log: log) }
            found = await probe()
        }
        if found.engine == nil {
            let systemd = sysroot.exists("/run/systemd/system")
            log.progress("starting the Docker engine (\(systemd ? "systemd" : "service"))")
            try await perform(DockerInstallPlan.start(systemd: systemd), sysroot: input.sysroot, log: log)
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: startDeadline)
            while found.engine == nil && clock.now < deadline {
                try await Task.sleep(for: .seconds(1))
                found = await probe()
            }
        }
        guard let engine = found.engine, let compose = found.compose else {
            throw UserError(
                "Docker is not usable: \(found.engine == nil ? "the engine does not answer `docker info`" : "`docker compose version` fails")\(found.detail.isEmpty ? "" : " (\(found.detail))").",
                remedy:
                    "Check `systemctl status docker` and `docker compose version`, and fix what they report."
            )
        }
        log.progress("Docker engine \(engine), compose \(compose)")
        return StepResult(Output(engineVersion: engine, composeVersion: compose))
    }

    /// The client, engine and compose versions, nil where a command failed; `detail` is the last error.
    func probe() async -> (client: String?, engine: String?, compose: String?, detail: String) {
        func version(_ argv: [String]) async -> (String?, String) {
            guard let result = try? await tools.commands.run(argv, timeout: .seconds(20)) else {
                return (nil, "could not run \(argv[0])")
            }
            let text = result.stdout.trimmed
            if result.status == 0 && !text.isEmpty { return (text, "") }
            return (nil, result.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(result.status)")
        }
        let (client, clientError) = await version(["docker", "version", "--format", "{{.Client.Version}}"])
        guard client != nil else { return (nil, nil, nil, clientError) }
        let (engine, engineError) = await version(["docker", "info", "--format", "{{.ServerVersion}}"])
        let (compose, composeError) = await version(["docker", "compose", "version", "--short"])
        return (client, engine, compose, engine == nil ? engineError : composeError)
    }

    func perform(_ action: PlannedAction, sysroot: String, log: StepLog) async throws {
        log.progress(action.description)
        switch action {
        case .run(let argv, let timeout):
            let result = try await tools.commands.run(argv, timeout: timeout)
            guard result.status == 0 else {
                let tail = (result.stderr + result.stdout).split(separator: "\n").suffix(3).joined(separator: " | ")
                throw UserError(
                    "`\(action)` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \(tail)",
                    remedy:
                        "Fix the cause (network, package sources, a held package lock), or install Docker by hand (https://docs.docker.com/engine/install/)."
                )
            }
        case .write(let path, let text, let mode):
            try AtomicFile.write(text, to: sysroot == "/" ? path : sysroot + path, mode: mode_t(mode))
        }
    }
}
