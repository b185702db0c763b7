import FoundationEssentials
import Processes
import SBSCore

/// The stack's containers as Prometheus sees them: `sbs metrics` reads them with `docker inspect` every minute
/// (sbs-metrics.timer) and writes `sbs-containers.prom` for node_exporter's textfile collector. The alert rules
/// `ServiceNotRunning`, `ServiceUnhealthy` and `ContainerRestarting` read these series.
///
/// Why not cAdvisor: Debian does not package it (so no test could run the real program), it needs the host's
/// `/sys`, `/var/lib/docker` and usually privileges, and it takes more memory than the minimum profile gives all
/// the exporters together. The engine's own metrics (`metrics-addr`) are about the engine, not its containers.
/// What the alerts need (running, health, restarts) is in `docker inspect`; per-container CPU and memory are not
/// exported (the host's are, by node_exporter).
public enum ContainerMetrics {
    /// One container, as `docker inspect` reports it.
    public struct Container: Sendable, Equatable {
        public var name: String
        /// The compose service (label `com.docker.compose.service`, or a swarm stack's service).
        public var service: String
        public var running: Bool
        /// `healthy`, `unhealthy`, `starting`, or nil when the service has no healthcheck.
        public var health: String?
        /// Restarts by the engine under the restart policy since the container was created.
        public var restartCount: Int
        /// When it last started; nil when it never did.
        public var startedAt: Date?

        public init(
            name: String, service: String, running: Bool, health: String?, restartCount: Int, startedAt: Date?
        ) {
            self.name = name
            self.service = service
            self.running = running
            self.health = health
            self.restartCount = restartCount
            self.startedAt = startedAt
        }

        /// Running and, when it has a healthcheck, healthy.
        public var isHealthy: Bool { running && (health == nil || health == "healthy") }
    }

    private struct Inspected: Decodable {
        struct State: Decodable {
            struct Health: Decodable { var Status: String }
            var Running: Bool
            var StartedAt: String?
            var Health: Health?
        }
        struct Config: Decodable { var Labels: [String: String]? }
        var Name: String
        var RestartCount: Int
        var State: State
        var Config: Config
    }

    /// `docker inspect` output (a JSON array). Containers of neither a compose project nor a stack are left out.
    /// - Throws: `UserError` quoting the start of what could not be read.
    public static func parse(_ text: String) throws(UserError) -> [Container] {
        let inspected: [Inspected] = try DockerInspect.decode(text)
        return containers(inspected)
    }

    private static func containers(_ inspected: [Inspected]) -> [Container] {
        inspected.compactMap { item in
            guard let service = DockerInspect.stackService(item.Config.Labels ?? [:]).service else { return nil }
            return Container(
                name: item.Name.hasPrefix("/") ? String(item.Name.dropFirst()) : item.Name, service: service,
                running: item.State.Running, health: item.State.Health?.Status, restartCount: item.RestartCount,
                startedAt: item.State.StartedAt.flatMap(timestamp))
        }
    }

    /// Every container of `project`, running or not (`docker compose ps` names them, `docker inspect` describes
    /// them), and every service the stack's compose profiles run (`docker compose config --services`, which reads
    /// COMPOSE_PROFILES from the deploy folder's .env): a service without a container is one that is not running.
    /// - Throws: `UserError` when docker fails or prints what cannot be read.
    public static func read(_ project: ComposeProject, runner: any CommandRunner) async throws(UserError)
        -> (containers: [Container], services: [String])
    {
        let config = try await runner.run(project.command(["config", "--services"]), timeout: .seconds(60))
        guard config.status == 0 else {
            throw UserError(
                "`docker compose config --services` failed (\(config.timedOut ? "timed out" : "exit \(config.status)")): \(config.stderr.lastLines(3))",
                remedy: "Check \(project.composeFile) (`docker compose config` shows the error).")
        }
        let services = config.stdout.split(separator: "\n").map { String($0).trimmed }.filter { !$0.isEmpty }
        let names = try await project.containers(runner).map(\.name)
        let inspected = try await DockerInspect.containers(names, as: Inspected.self, runner: runner)
        return (containers(inspected), services)
    }

    /// The samples of `containers`, read at `now`, labelled by service and container; a service of `services`
    /// without a container is not running (its container label empty).
    public static func samples(_ containers: [Container], services: [String] = [], now: Date)
        -> [TextfileMetrics.Sample]
    {
        var samples: [TextfileMetrics.Sample] = []
        let missing = services.filter { service in !containers.contains { $0.service == service } }.map {
            Container(name: "", service: $0, running: false, health: nil, restartCount: 0, startedAt: nil)
        }
        let sorted = (containers + missing).sorted { ($0.service, $0.name) < ($1.service, $1.name) }
        func add(_ name: String, _ help: String, type: TextfileMetrics.Kind = .gauge, _ value: (Container) -> Double?) {
            for container in sorted {
                guard let value = value(container) else { continue }
                samples.append(
                    .init(
                        name, help: help, type: type,
                        labels: [("service", container.service), ("container", container.name)], value: value))
            }
        }
        add("sbs_service_running", "1 when the service's container runs.") { $0.running ? 1 : 0 }
        add("sbs_service_healthy", "1 when the container runs and its healthcheck (if any) passes.") {
            $0.isHealthy ? 1 : 0
        }
        add("sbs_service_restarts_total", "Restarts by the engine since the container was created.", type: .counter) {
            $0.name.isEmpty ? nil : Double($0.restartCount)
        }
        add("sbs_service_start_time_seconds", "When the container last started.") {
            $0.startedAt.map { $0.timeIntervalSince1970.rounded(.down) }
        }
        samples.append(
            .init(
                "sbs_containers_read_timestamp_seconds", help: "When sbs metrics last read the stack's containers.",
                value: now.timeIntervalSince1970.rounded(.down)))
        return samples
    }

    /// Docker's RFC 3339 time with up to nanoseconds (`2026-12-06T16:10:01.123456789Z`); nil for Docker's zero
    /// time (`0001-01-01T00:00:00Z`: never started) or what cannot be read.
    static func timestamp(_ text: String) -> Date? {
        guard text.hasSuffix("Z"), text.count >= 20, !text.hasPrefix("0001-") else { return nil }
        let whole = String(text.prefix(19)) + "Z"
        guard let date = try? Date(whole, strategy: .iso8601) else { return nil }
        let rest = text.dropFirst(19).dropLast()
        guard rest.isEmpty || rest.first == "." else { return nil }
        let fraction = Double("0" + rest) ?? 0
        return date.addingTimeInterval(fraction)
    }
}
