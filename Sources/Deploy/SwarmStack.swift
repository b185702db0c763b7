import FoundationEssentials
import Processes
import SBSCore

/// The stack on a Docker Swarm (answers `target: swarm`): this engine's membership, the stack's services and their
/// tasks, its Docker secrets. Every command is `docker` on this engine, which must be a manager of the swarm.
public struct SwarmStack: Sendable {
    public var project: ComposeProject
    public var runner: any CommandRunner
    public var progress: @Sendable (String) -> Void
    /// How often the services are read while waiting.
    public var pollInterval: Duration = .seconds(2)

    public init(project: ComposeProject, runner: any CommandRunner, progress: @escaping @Sendable (String) -> Void) {
        self.project = project
        self.runner = runner
        self.progress = progress
    }

    /// Runs `argv`; a non-zero exit throws with its last lines.
    @discardableResult
    func run(_ argv: [String], timeout: Duration = .seconds(60), remedy: String? = nil) async throws(UserError)
        -> CommandResult
    {
        let result = try await runner.run(argv, timeout: timeout)
        guard result.status == 0 else {
            throw UserError(
                "`\(argv.prefix(3).joined(separator: " "))` failed (\(result.timedOut ? "timed out after \(timeout)" : "exit \(result.status)")): \((result.stderr + "\n" + result.stdout).lastLines(3))",
                remedy: remedy ?? "Check `docker info` (Swarm) and `docker stack ps \(project.name)`.")
        }
        return result
    }

    // MARK: - Membership

    /// This engine in its swarm, as `docker info` says.
    public struct Membership: Sendable, Equatable {
        /// `inactive`, `pending`, `active`, `error`, `locked`.
        public var state: String
        /// A manager (it can deploy stacks).
        public var isManager: Bool
        public var nodeID: String
    }

    public func membership() async throws(UserError) -> Membership {
        let result = try await run(
            ["docker", "info", "--format", "{{.Swarm.LocalNodeState}}\t{{.Swarm.ControlAvailable}}\t{{.Swarm.NodeID}}"])
        // The node id is empty outside a swarm: only the line's end is cut, not the tabs.
        let line = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3 else {
            throw UserError("`docker info` printed no swarm state sbs can read: \(result.stdout.trimmed.debugSafe)")
        }
        return Membership(state: fields[0], isManager: fields[1] == "true", nodeID: fields[2])
    }

    /// This engine a manager of a swarm: a new swarm when it is in none (`docker swarm init`), as it is when it
    /// manages one; a worker, or a swarm in trouble, is refused with what to do.
    /// - Returns: what changed, for the step's log.
    public func ensureManager(advertiseAddress: String?) async throws(UserError) -> String {
        var node = try await membership()
        if node.state == "inactive" {
            try await run(
                ["docker", "swarm", "init"] + (advertiseAddress.map { ["--advertise-addr", $0] } ?? []),
                remedy:
                    "On a host with several addresses give swarm.advertise_addr in the answers (the address other nodes reach this one at)."
            )
            node = try await membership()
            guard node.state == "active", node.isManager else {
                throw UserError("`docker swarm init` ran, but this engine is not an active manager (\(node.state)).")
            }
            return "a new swarm with this engine as its manager (node \(node.nodeID.prefix(12)))"
        }
        guard node.state == "active" else {
            throw UserError(
                "This engine's swarm is \(node.state).",
                remedy:
                    "A locked swarm needs `docker swarm unlock`; one in error, `docker info` says why. Then run `sbs install` again."
            )
        }
        guard node.isManager else {
            throw UserError(
                "This engine is a worker of a swarm; a stack is deployed from a manager.",
                remedy: "Run sbs on a manager of the swarm, or give `target: compose` for a stack on this server alone."
            )
        }
        return "a manager of its swarm (node \(node.nodeID.prefix(12)))"
    }

    /// Each of `SwarmSettings.placementLabels` on at least one node: a label no node carries is put on this one, so
    /// that on one server everything runs here, and a label moved to another node (README: "Docker Swarm") stays
    /// there.
    /// - Returns: the labels put on this node.
    @discardableResult
    public func ensurePlacementLabels() async throws(UserError) -> [String] {
        let node = try await membership()
        let nodes = try await run(["docker", "node", "ls", "--quiet"]).stdout.split(separator: "\n").map(String.init)
        var carried: Set<String> = []
        for id in nodes where !id.isEmpty {
            let labels = try await run(["docker", "node", "inspect", "--format", "{{json .Spec.Labels}}", id])
            let decoded = (try? JSONDecoder().decode([String: String]?.self, from: Data(labels.stdout.utf8))) ?? nil
            for (key, value) in decoded ?? [:] where value == "true" { carried.insert(key) }
        }
        let missing = SwarmSettings.placementLabels.filter { !carried.contains($0) }
        if !missing.isEmpty {
            try await run(
                ["docker", "node", "update"] + missing.flatMap { ["--label-add", $0 + "=true"] } + [node.nodeID])
        }
        return missing
    }

    // MARK: - Services

    /// One service of the stack as the swarm reports it.
    public struct Service: Sendable, Equatable {
        /// The stack file's name (`app-api`), without the stack's prefix.
        public var name: String
        /// Tasks running (healthy, for a service with a healthcheck: the swarm holds a task in `starting` until its
        /// healthcheck passes) and wanted.
        public var running: Int
        public var desired: Int
        /// The last rolling update's state (`updating`, `completed`, `rollback_started`, `rollback_completed` …),
        /// empty when the service was never updated; and when it started, to tell one update from the next.
        public var updateState: String
        public var updateStarted: String
        public var image: String

        public var isConverged: Bool {
            running == desired && desired > 0 && !updateState.hasPrefix("rollback") && updateState != "updating"
                && updateState != "paused"
        }
    }

    /// Every service of the stack (none when it is not deployed).
    public func services() async throws(UserError) -> [Service] {
        let ids = try await run([
            "docker", "service", "ls", "--quiet", "--filter", "label=com.docker.stack.namespace=" + project.name,
        ]).stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        if ids.isEmpty { return [] }
        let inspect = try await run(
            [
                "docker", "service", "inspect", "--format",
                "{{.Spec.Name}}\t{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}0{{end}}\t{{if .UpdateStatus}}{{.UpdateStatus.State}}\t{{.UpdateStatus.StartedAt}}{{else}}\t{{end}}\t{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            ] + ids)
        let running = try await runningTasks()
        var services: [Service] = []
        for line in inspect.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 5 else { continue }
            let name = String(fields[0].dropFirst(project.name.count + 1))
            services.append(
                Service(
                    name: name, running: running[name] ?? 0, desired: Int(fields[1]) ?? 0, updateState: fields[2],
                    updateStarted: fields[3], image: fields[4]))
        }
        return services.sorted { $0.name < $1.name }
    }

    /// Running tasks by service, on every node (`docker stack ps`).
    func runningTasks() async throws(UserError) -> [String: Int] {
        let result = try await run([
            "docker", "stack", "ps", project.name, "--filter", "desired-state=running", "--format",
            "{{.Name}}\t{{.CurrentState}}",
        ])
        var counts: [String: Int] = [:]
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count == 2, fields[1].hasPrefix("Running") else { continue }
            // NAME is `STACK_SERVICE.SLOT`.
            let task = fields[0].dropFirst(project.name.count + 1)
            guard let dot = task.lastIndex(of: ".") else { continue }
            counts[String(task[..<dot]), default: 0] += 1
        }
        return counts
    }

    /// `docker stack deploy` of the stack file: services made or updated to what it says, those it no longer
    /// names removed (`--prune`). Images are used as the engine has them (`--resolve-image never`: no registry is
    /// asked for a digest); a worker pulls with the manager's registry login (`--with-registry-auth`).
    /// - Parameter variables: `NAME=value` pairs the stack file reads as `${NAME}` (never secrets).
    public func deploy(variables: [String] = [], registryConfig: String? = nil) async throws(UserError) {
        let environment = variables + (registryConfig.map { ["DOCKER_CONFIG=" + $0] } ?? [])
        try await run(
            (environment.isEmpty ? [] : ["env"] + environment)
                + [
                    "docker", "stack", "deploy", "--compose-file", project.composeFile, "--with-registry-auth",
                    "--resolve-image", "never", "--prune", "--detach=true", project.name,
                ], timeout: .seconds(600),
            remedy: "Check \(project.composeFile) (`docker stack config -c \(project.composeFile)` shows the error).")
    }

    /// Waits until every service in `names` (all of the stack when empty) runs its desired tasks, healthy, with no
    /// rolling update under way. An update the swarm rolled back after `before` (its `updateStarted` differs) is a
    /// failure: the new settings did not turn healthy, and the service runs its previous ones.
    /// - Throws: `UserError` naming each service that did not converge, with its tasks' last errors.
    public func waitConverged(_ names: [String] = [], before: [Service], deadline: Duration) async throws(UserError) {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        var seen: [String: String] = [:]
        var last: [Service] = []
        while true {
            last = try await services().filter { names.isEmpty || names.contains($0.name) }
            for service in last {
                let now =
                    "\(service.running)/\(service.desired)\(service.updateState.isEmpty ? "" : " " + service.updateState)"
                if seen[service.name] != now {
                    if seen[service.name] != nil || !service.isConverged { progress("\(service.name): \(now)") }
                    seen[service.name] = now
                }
            }
            let rolledBack = last.filter { service in
                service.updateState == "rollback_completed"
                    && before.first(where: { $0.name == service.name })?.updateStarted != service.updateStarted
            }
            if !rolledBack.isEmpty {
                let diagnosis = await taskErrors(rolledBack.map(\.name))
                throw UserError(
                    "The update of \(rolledBack.map(\.name).joined(separator: ", ")) did not turn healthy, and the swarm rolled it back: the service runs its previous settings.\(diagnosis)",
                    remedy:
                        "Read `docker service ps --no-trunc \(project.name)_\(rolledBack[0].name)` and `docker service logs \(project.name)_\(rolledBack[0].name)`; fix the image or the answers, then run `sbs install` again."
                )
            }
            let missing = names.filter { name in !last.contains { $0.name == name } }
            if missing.isEmpty && !last.isEmpty && last.allSatisfy(\.isConverged) { return }
            if clock.now >= end { break }
            do { try await Task.sleep(for: pollInterval) } catch {
                throw UserError("Interrupted while waiting for the stack.")
            }
        }
        let waiting = last.filter { !$0.isConverged }
        let diagnosis = await taskErrors(waiting.map(\.name))
        throw UserError(
            "\(waiting.map { "\($0.name) (\($0.running) of \($0.desired) tasks running and healthy\($0.updateState.isEmpty ? "" : ", update " + $0.updateState))" }.joined(separator: ", ")) did not converge within \(deadline).\(diagnosis)",
            remedy:
                "Read `docker stack ps --no-trunc \(project.name)` and `docker service logs \(project.name)_SERVICE`; fix the cause (a node without the label a service is placed by, memory, an image), then run `sbs install` again."
        )
    }

    /// The last task errors of `names` (`docker service ps`): why a task was rejected, failed or shut down.
    func taskErrors(_ names: [String]) async -> String {
        var text = ""
        for name in names {
            guard
                let result = try? await runner.run(
                    [
                        "docker", "service", "ps", "--no-trunc", "--format", "{{.CurrentState}}\t{{.Error}}",
                        project.name + "_" + name,
                    ], timeout: .seconds(30)), result.status == 0
            else { continue }
            let lines = result.stdout.split(separator: "\n").map { $0.split(separator: "\t").joined(separator: " ") }
                .filter { !$0.trimmed.isEmpty }.prefix(3)
            if !lines.isEmpty { text += "\n  \(name): " + lines.joined(separator: "; ") }
        }
        return text
    }

    // MARK: - Secrets and configs

    /// Makes each Docker secret of `secrets` (name → value) that the swarm does not have. A value reaches docker
    /// as a file in memory (`MemoryFile`, `/proc/PID/fd/N`), never in an argv or an environment.
    /// - Returns: the names made.
    @discardableResult
    public func ensureSecrets(_ secrets: [(name: String, value: String)]) async throws(UserError) -> [String] {
        let existing = Set(try await objectNames("secret"))
        var made: [String] = []
        for (name, value) in secrets where !existing.contains(name) {
            let file = try MemoryFile(bytes: Array(value.utf8))
            try await run(
                ["docker", "secret", "create", "--label", "sbs.project=" + project.name, name, file.path],
                remedy: "Check that this engine is a swarm manager (`docker info`).")
            made.append(name)
        }
        return made
    }

    /// The names of this stack's Docker secrets or configs (`kind` is `secret` or `config`): those starting with
    /// the stack's name and `_`.
    func objectNames(_ kind: String) async throws(UserError) -> [String] {
        try await run(["docker", kind, "ls", "--format", "{{.Name}}"]).stdout.split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix(project.name + "_") }
    }

    /// Removes this stack's secrets and configs that `keeping` does not name: the versions a changed value
    /// replaced. One still used by a task (a service not yet updated) is left for the next run.
    /// - Returns: how many were removed.
    @discardableResult
    public func pruneObjects(keeping: Set<String>) async throws(UserError) -> Int {
        var removed = 0
        for kind in ["secret", "config"] {
            for name in try await objectNames(kind) where !keeping.contains(name) {
                if let result = try? await runner.run(["docker", kind, "rm", name], timeout: .seconds(30)),
                    result.status == 0
                {
                    removed += 1
                }
            }
        }
        return removed
    }

    /// `docker stack rm`, then waits until its containers on this node and its networks are gone (the removal
    /// goes on after the command returns), and removes its Docker secrets and configs; with `volumes`, its named
    /// volumes on this node too. The swarm itself stays.
    public func remove(volumes: Bool, deadline: Duration = .seconds(300)) async throws(UserError) {
        try await run(["docker", "stack", "rm", project.name], timeout: .seconds(120))
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        while true {
            let containers = try await run([
                "docker", "ps", "--all", "--quiet", "--filter", "label=com.docker.stack.namespace=" + project.name,
            ]).stdout.trimmed
            let networks = try await run([
                "docker", "network", "ls", "--quiet", "--filter", "label=com.docker.stack.namespace=" + project.name,
            ]).stdout.trimmed
            if containers.isEmpty && networks.isEmpty { break }
            guard clock.now < end else {
                throw UserError(
                    "The stack \(project.name) was removed, but its containers or networks are still there after \(deadline).",
                    remedy:
                        "Look at `docker stack ps \(project.name)` and `docker network ls`, then run `sbs uninstall` again."
                )
            }
            do { try await Task.sleep(for: pollInterval) } catch {
                throw UserError("Interrupted while removing the stack.")
            }
        }
        try await pruneObjects(keeping: [])
        guard volumes else { return }
        let names = try await run([
            "docker", "volume", "ls", "--quiet", "--filter", "label=com.docker.stack.namespace=" + project.name,
        ]).stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        if !names.isEmpty { try await run(["docker", "volume", "rm"] + names, timeout: .seconds(120)) }
    }

    // MARK: - Containers on this node

    /// The stack's running containers on this node, as `ComposeContainer`s (service without the stack's prefix).
    public func containers() async throws(UserError) -> [ComposeContainer] {
        let result = try await run([
            "docker", "ps", "--filter", "label=com.docker.stack.namespace=" + project.name, "--format",
            "{{.Names}}\t{{.State}}\t{{.Status}}\t{{.Label \"com.docker.swarm.service.name\"}}\t{{.Ports}}",
        ])
        return result.stdout.split(separator: "\n").compactMap { Self.container(String($0), stack: project.name) }
    }

    /// One line of `containers()`'s `docker ps`: health from the status (`Up 3 minutes (healthy)`), ports from
    /// `0.0.0.0:443->443/tcp, :::443->443/tcp`.
    static func container(_ line: String, stack: String) -> ComposeContainer? {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 5, fields[3].hasPrefix(stack + "_") else { return nil }
        let status = fields[2]
        let health =
            status.contains("(healthy)")
            ? "healthy"
            : status.contains("(unhealthy)") ? "unhealthy" : status.contains("(health: starting)") ? "starting" : ""
        var publishers: [ComposeContainer.Publisher] = []
        for entry in fields[4].split(separator: ",").map({ $0.trimmed }) where entry.contains("->") {
            let sides = entry.split(separator: "->").map(String.init)
            guard sides.count == 2, let colon = sides[0].lastIndex(of: ":"),
                let published = Int(sides[0][sides[0].index(after: colon)...])
            else { continue }
            let target = sides[1].split(separator: "/")
            publishers.append(
                ComposeContainer.Publisher(
                    url: String(sides[0][..<colon]), targetPort: Int(target.first ?? "") ?? 0,
                    publishedPort: published, protocol: target.count > 1 ? String(target[1]) : "tcp"))
        }
        return ComposeContainer(
            service: String(fields[3].dropFirst(stack.count + 1)), name: fields[0], state: fields[1], health: health,
            publishers: publishers)
    }
}
