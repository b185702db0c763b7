import FoundationEssentials
import Processes
import SBSCore

/// Runs the stack's `docker compose` commands for the install steps: images present, services up, health waited
/// for, and when something fails, what failed with its health log and last log lines. Progress goes to
/// `progress`, one line per change (an image pulled, a service turning healthy), so a long wait is never silent.
public struct ComposeDriver: Sendable {
    public var project: ComposeProject
    public var runner: any CommandRunner
    /// Compose profiles to activate (`ollama`, `monitoring` …), passed as `--profile` on every command so that
    /// what runs never depends on the environment of the shell that started sbs.
    public var profiles: [String]
    public var progress: @Sendable (String) -> Void
    /// How often health is polled while waiting.
    public var pollInterval: Duration = .seconds(2)

    public init(
        project: ComposeProject, runner: any CommandRunner, profiles: [String],
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.project = project
        self.runner = runner
        self.profiles = profiles
        self.progress = progress
    }

    /// `docker compose` for this project with the profiles, then `arguments`.
    public func command(_ arguments: [String]) -> [String] {
        project.command(profiles.flatMap { ["--profile", $0] } + arguments)
    }

    /// Runs a compose command; a non-zero exit throws with the command's last output lines.
    @discardableResult
    func run(_ argv: [String], timeout: Duration, what: String, remedy: String) async throws(UserError) -> CommandResult
    {
        let result = try await runner.run(argv, timeout: timeout)
        guard result.status == 0 else {
            throw UserError(
                "\(what) failed (\(result.timedOut ? "timed out after \(timeout)" : "exit \(result.status)")): \((result.stderr + "\n" + result.stdout).lastLines(4))",
                remedy: remedy)
        }
        return result
    }

    /// Compose's hash of each service's settings as the file says now (`config --hash '*'`), by service: every
    /// service of the active profiles is a key. A container whose `configHash` differs would be recreated by `up`.
    public func configHashes() async throws(UserError) -> [String: String] {
        let result = try await run(
            command(["config", "--hash", "*"]), timeout: .seconds(60), what: "`docker compose config --hash`",
            remedy: "Check \(project.composeFile) (`docker compose config` shows the error).")
        var hashes: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { hashes[String(parts[0])] = String(parts[1]) }
        }
        return hashes
    }

    /// True when every one of `services` has a container that runs, is healthy and was created from the
    /// settings the file has now: `up` would change nothing.
    public func isUpToDate(_ services: [String], hashes: [String: String]) async throws(UserError) -> Bool {
        let containers = try await project.containers(runner)
        return !services.isEmpty
            && services.allSatisfy { service in
                let mine = containers.filter { $0.service == service }
                return !mine.isEmpty
                    && mine.allSatisfy { $0.isReady && $0.configHash != nil && $0.configHash == hashes[service] }
            }
    }

    /// The images of the active profiles' services, as compose resolves them (`docker compose config --images`).
    public func images() async throws(UserError) -> [String] {
        let result = try await run(
            command(["config", "--images"]), timeout: .seconds(60), what: "`docker compose config --images`",
            remedy: "Check \(project.composeFile) (`docker compose config` shows the error).")
        return Array(Set(result.stdout.split(separator: "\n").map { $0.trimmed }.filter { !$0.isEmpty })).sorted()
    }

    /// Makes every image present: those already on the engine are left alone (no pull). With `archive` (a
    /// `docker save` tarball, answers `images.archive`) the missing ones are loaded from it and nothing is pulled;
    /// without, they are pulled one by one with a line each, logged in to `registry` when given.
    /// - Throws: `UserError` naming the image that could not be loaded or pulled.
    public func ensureImages(_ images: [String], archive: String? = nil, registry: RegistryLogin? = nil)
        async throws(UserError)
    {
        var missing = try await absent(images)
        if missing.isEmpty {
            progress("all \(images.count) images are present")
            return
        }
        let clock = ContinuousClock()
        if let archive {
            progress("loading \(missing.joined(separator: ", ")) from \(archive)")
            let started = clock.now
            try await run(
                ["docker", "load", "--quiet", "--input", archive], timeout: .seconds(3600),
                what: "`docker load --input \(archive)`",
                remedy:
                    "Check that \(archive) is a `docker save` archive of the stack's images (images.archive)."
            )
            missing = try await absent(missing)
            guard missing.isEmpty else {
                throw UserError(
                    "\(archive) does not hold \(missing.joined(separator: ", ")); with images.archive nothing is pulled.",
                    remedy:
                        "Save those images into the archive too (`docker save -o \(archive) IMAGE…` on a machine that has them), or remove images.archive to pull them."
                )
            }
            progress("loaded in \(Self.seconds(clock.now - started))")
            return
        }
        var pull = ["docker", "pull", "--quiet"]
        if let registry {
            try registry.writeConfig()
            pull = ["env", "DOCKER_CONFIG=" + registry.configDirectory] + pull
        }
        for (index, image) in missing.enumerated() {
            progress("pulling \(image) (\(index + 1) of \(missing.count))")
            let started = clock.now
            // `--` ends docker's options: an image name is never read as one (answers' names are checked
            // references too, which never start with '-').
            try await run(
                pull + ["--", image], timeout: .seconds(3600), what: "Pulling \(image)",
                remedy:
                    "Check the network and the image name (answers `images:`); a private registry needs answers `registry` (server, user, password); a site without internet gives `images.archive`."
            )
            progress("pulled \(image) in \(Self.seconds(clock.now - started))")
        }
    }

    /// The images of `images` that the engine does not have.
    func absent(_ images: [String]) async throws(UserError) -> [String] {
        var missing: [String] = []
        for image in images {
            let inspect = try await runner.run(
                ["docker", "image", "inspect", "--format", "{{.Id}}", "--", image], timeout: .seconds(30))
            if inspect.status != 0 { missing.append(image) }
        }
        return missing
    }

    /// `up -d` for `services` (all of them when empty), while health is reported as it changes; then waits until
    /// every one is running and healthy.
    /// - Parameters:
    ///   - noDeps: start only `services`, not what they depend on (`--no-deps`).
    ///   - variables: `NAME=value` pairs the compose file reads as `${NAME}` (never secrets: those are in `.env`).
    /// - Throws: `UserError` naming the service that failed, with its health log and last log lines.
    public func up(_ services: [String] = [], noDeps: Bool = false, variables: [String] = [], deadline: Duration)
        async throws(UserError)
    {
        let argv =
            (variables.isEmpty ? [] : ["env"] + variables)
            + command(["up", "--detach", "--remove-orphans"] + (noDeps ? ["--no-deps"] : []) + services)
        let watcher = Task { await watchHealth(services, until: deadline) }
        let result = try await runner.run(argv, timeout: deadline)
        watcher.cancel()
        _ = await watcher.value
        guard result.status == 0 else {
            let diagnosis = await diagnose(services)
            throw UserError(
                "`docker compose up` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \((result.stderr + "\n" + result.stdout).lastLines(3))\(diagnosis)",
                remedy:
                    "Fix what the log above shows (`docker compose -p \(project.name) logs SERVICE` in \(project.directory) shows more)."
            )
        }
        try await waitReady(services, deadline: deadline)
    }

    /// Waits until every container of `services` (all when empty) runs and is healthy.
    public func waitReady(_ services: [String], deadline: Duration) async throws(UserError) {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        var last: [ComposeContainer] = []
        while true {
            last = try await project.containers(runner).filter { services.isEmpty || services.contains($0.service) }
            // Ready is ready, even when the answer came at or after the deadline (a slow `ps` on a busy host).
            if !last.isEmpty && last.allSatisfy(\.isReady)
                && (services.isEmpty || Set(last.map(\.service)).isSuperset(of: services))
            {
                return
            }
            let failed = last.filter { $0.state == "exited" || $0.state == "dead" || $0.health == "unhealthy" }
            if !failed.isEmpty || clock.now >= end { break }
            do { try await Task.sleep(for: pollInterval) } catch {
                throw UserError("Interrupted while waiting for the stack.")
            }
        }
        let notReady = last.filter { !$0.isReady }.map(\.service)
        let missing = services.filter { name in !last.contains { $0.service == name } }
        let names = (notReady + missing).sorted()
        let diagnosis = await diagnose(notReady)
        throw UserError(
            "\(names.isEmpty ? "The stack" : names.joined(separator: ", ")) did not become healthy within \(deadline): \(last.filter { !$0.isReady }.map { "\($0.service) \($0.state)\($0.health.isEmpty ? "" : "/" + $0.health)" }.joined(separator: ", "))\(missing.isEmpty ? "" : "; no container for \(missing.joined(separator: ", "))")\(diagnosis)",
            remedy:
                "Read the service's log (`docker compose -p \(project.name) logs \(names.first ?? "SERVICE")` in \(project.directory)), fix the cause (memory, a wrong image, a port in use)."
        )
    }

    /// Prints each service's state and health when it changes, until cancelled or `deadline`.
    func watchHealth(_ services: [String], until deadline: Duration) async {
        let clock = ContinuousClock()
        let started = clock.now
        // What runs already is not news: only changes from the first look are shown.
        var seen: [String: String]?
        while !Task.isCancelled && clock.now - started < deadline {
            if let containers = try? await project.containers(runner) {
                let now = Dictionary(
                    containers.filter { services.isEmpty || services.contains($0.service) }
                        .map { ($0.service, $0.health.isEmpty ? $0.state : $0.health) }, uniquingKeysWith: { a, _ in a }
                )
                if let before = seen {
                    for (service, state) in now.sorted(by: { $0.key < $1.key }) where before[service] != state {
                        progress("\(service): \(state) (\(Self.seconds(clock.now - started)))")
                    }
                }
                seen = now
            }
            try? await Task.sleep(for: pollInterval)
        }
    }

    /// For each of `services` that is not ready: its state, the last healthcheck outputs and its last log lines.
    func diagnose(_ services: [String]) async -> String {
        guard let containers = try? await project.containers(runner) else { return "" }
        var text = ""
        for container in containers
        where !container.isReady && (services.isEmpty || services.contains(container.service)) {
            text +=
                "\n  \(container.service) (\(container.name)): \(container.state)\(container.health.isEmpty ? "" : ", " + container.health)"
            if let health = try? await runner.run(
                [
                    "docker", "inspect", "--format",
                    "{{if .State.Health}}{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}{{end}}",
                    container.name,
                ], timeout: .seconds(20)),
                health.status == 0, !health.stdout.lastLines(2).isEmpty
            {
                text += "\n    last healthchecks: " + health.stdout.lastLines(2)
            }
            if let logs = try? await runner.run(
                command(["logs", "--no-color", "--tail", "10", container.service]), timeout: .seconds(30))
            {
                let lines = (logs.stdout + logs.stderr).lastLines(5)
                if !lines.isEmpty { text += "\n    last log lines: " + lines }
            }
        }
        return text
    }

    /// Runs `argv` inside the running container of `service` (`exec -T`).
    public func exec(_ service: String, _ argv: [String], timeout: Duration = .seconds(60)) async throws(UserError)
        -> CommandResult
    {
        let command =
            project.target == .swarm
            ? try await project.exec(service, argv, runner: runner) : command(["exec", "-T", service] + argv)
        return try await runner.run(command, timeout: timeout)
    }

    /// The TLS config of the stack's nginx, as its container sees it (the deploy folder's `nginx/` is mounted at
    /// `/etc/nginx/sbs`).
    public static let nginxConfig = "/etc/nginx/sbs/nginx.conf"

    /// Makes a running nginx read its config and certificates again (after a renewal, or a certificate installed
    /// by `sbs install`): `nginx -t` on the stack's TLS config first (it loads the certificate and key), so a
    /// broken file leaves the running nginx as it was, then `nginx -s reload` (graceful: no connection dropped).
    /// - Returns: false when the stack's nginx is not running (nothing to reload).
    /// - Throws: `UserError` with nginx's own words when the test or the reload fails.
    public func reloadNginx() async throws(UserError) -> Bool {
        guard try await project.containers(runner).contains(where: { $0.service == "nginx" && $0.state == "running" })
        else { return false }
        // Without -c, nginx would test (and find its pid file through) the image's own config, which names no certificate.
        let test = try await exec("nginx", ["nginx", "-t", "-c", Self.nginxConfig])
        guard test.status == 0 else {
            throw UserError(
                "nginx does not accept its configuration with the new certificate: \((test.stderr + "\n" + test.stdout).lastLines(3))",
                remedy:
                    "nginx keeps serving the previous certificate. Check the files under the live folder, then run `docker compose -p \(project.name) exec nginx nginx -s reload` in \(project.directory)."
            )
        }
        let reload = try await exec("nginx", ["nginx", "-c", Self.nginxConfig, "-s", "reload"])
        guard reload.status == 0 else {
            throw UserError(
                "nginx did not reload: \((reload.stderr + "\n" + reload.stdout).lastLines(3))",
                remedy: "Run `docker compose -p \(project.name) restart nginx` in \(project.directory).")
        }
        return true
    }

    static func seconds(_ duration: Duration) -> String {
        decimal(duration.seconds) + " s"
    }
}
