import Deploy
import FoundationEssentials
import Processes
import SBSCore

/// What the stack checks read from Docker. The real one is `ComposeStackProbe`; tests give their own.
public protocol StackProbe: Sendable {
    /// Every container of the project, running or not, with its ports (`docker compose ps --all --format json`).
    /// - Throws: `UserError` when compose fails or prints what cannot be read.
    func containers() async throws(UserError) -> [ComposeContainer]

    /// Runs `argv` in the running container of `service` (`docker compose exec -T SERVICE ARGV…`) and waits for it.
    /// - Returns: its exit status and output; a service that is not running gives compose's non-zero status.
    /// - Throws: `UserError` when `docker` cannot be started at all.
    func exec(_ service: String, _ argv: [String]) async throws(UserError) -> CommandResult

    /// Every running container of the engine, the stack's and any other, with its privileges and published ports
    /// (`docker ps`, `docker inspect`).
    /// - Throws: `UserError` when docker fails or prints what cannot be read.
    func engineContainers() async throws(UserError) -> [ContainerPrivileges]
}

/// The stack's compose project, read with the `docker` CLI.
public struct ComposeStackProbe: StackProbe {
    public var project: ComposeProject
    public var runner: any CommandRunner
    /// The most one `exec` may take.
    public var timeout: Duration

    public init(project: ComposeProject, runner: any CommandRunner, timeout: Duration = .seconds(30)) {
        self.project = project
        self.runner = runner
        self.timeout = timeout
    }

    public func containers() async throws(UserError) -> [ComposeContainer] {
        try await project.containers(runner)
    }

    public func exec(_ service: String, _ argv: [String]) async throws(UserError) -> CommandResult {
        try await runner.run(try await project.exec(service, argv, runner: runner), timeout: timeout)
    }

    public func engineContainers() async throws(UserError) -> [ContainerPrivileges] {
        try await ContainerPrivileges.read(runner: runner)
    }
}

/// The checks made through Docker: `database`, `containers`, `models`, `grafana`, `monitoring-targets`,
/// `alerting`, `published-ports`, `privileges`.
struct StackChecks: Sendable {
    let target: VerifyTarget
    let probe: any StackProbe
    /// Before an exporter whose scrape failed is scraped again.
    var retryPause: Duration = .seconds(1)

    func run() async -> [VerifyCheck] {
        let containers: Result<[ComposeContainer], UserError>
        do { containers = .success(try await probe.containers()) } catch { containers = .failure(error) }
        let engine: Result<[ContainerPrivileges], UserError>
        do { engine = .success(try await probe.engineContainers()) } catch { engine = .failure(error) }
        return [
            await database(), self.containers(containers), await models(), grafana(containers),
            await monitoringTargets(), await alerting(), publishedPorts(containers, engine: engine),
            privileges(engine),
        ]
    }

    func command(_ arguments: [String]) -> String {
        "`" + target.project.commandLine(arguments) + "`"
    }

    var remedyProfileUnknown: String { "Run the install through choose-profile first (`sbs install`)." }

    /// `pg_isready` inside app-db.
    func database() async -> VerifyCheck {
        let result: CommandResult
        do { result = try await probe.exec("app-db", ["pg_isready", "-U", "postgres", "-h", "localhost"]) } catch {
            return .fail(
                "database", "pg_isready could not be run: \(error.message)",
                remedy: error.remedy ?? "Check that Docker runs (`docker info`).")
        }
        let output = (result.stdout + "\n" + result.stderr).lastLines(2)
        if result.status == 0 {
            return .pass("database", "pg_isready: \(output.isEmpty ? "accepting connections" : output)")
        }
        return .fail(
            "database",
            "pg_isready in app-db: \(result.timedOut ? "timed out" : "exit \(result.status)")\(output.isEmpty ? "" : ": \(output)")",
            remedy: "Look at \(command(["logs", "--tail", "50", "app-db"])); once it is healthy, `sbs verify` again.")
    }

    /// Every container of the project is running, and healthy when it has a healthcheck.
    func containers(_ containers: Result<[ComposeContainer], UserError>) -> VerifyCheck {
        let list: [ComposeContainer]
        switch containers {
        case .failure(let error):
            return .fail(
                "containers", "the containers could not be listed: \(error.message)",
                remedy: error.remedy ?? "Check that Docker runs (`docker info`).")
        case .success(let found): list = found
        }
        if list.isEmpty {
            return .fail(
                "containers", "the compose project \(target.project.name) has no containers",
                remedy: "Start the stack: `sbs install --from start-stack`.")
        }
        let unready = list.filter { !$0.isReady }
        if unready.isEmpty {
            let checked = list.filter { !$0.health.isEmpty }.count
            return .pass(
                "containers",
                "\(list.count) running (\(checked) healthy by their healthcheck): \(list.map(\.service).sorted().joined(separator: ", "))"
            )
        }
        let described = unready.map { container in
            "\(container.name) (\(container.state)\(container.health.isEmpty ? "" : ", \(container.health)")\(container.exitCode.map { $0 != 0 && container.state == "exited" ? ", exit \($0)" : "" } ?? ""))"
        }
        let services = unready.map(\.service).sorted()
        return .fail(
            "containers",
            "not running and healthy: \(described.joined(separator: ", ")); \(list.count - unready.count) of \(list.count) are",
            remedy:
                "Look at \(command(["logs", "--tail", "50"] + services)), then \(command(["up", "-d", "--wait"])) or `sbs install --from start-stack`."
        )
    }

    /// `ollama list` holds every model of the profile.
    func models() async -> VerifyCheck {
        guard let profile = target.profile else {
            return .fail(
                "models", "the profile is not known (choose-profile has not run)", remedy: remedyProfileUnknown)
        }
        guard let wanted = profile.ollamaModels else { return .skip("models", "this profile runs no local Ollama") }
        let result: CommandResult
        do { result = try await probe.exec("ollama", ["ollama", "list"]) } catch {
            return .fail(
                "models", "ollama list could not be run: \(error.message)",
                remedy: error.remedy ?? "Check that Docker runs (`docker info`).")
        }
        guard result.status == 0 else {
            return .fail(
                "models",
                "ollama list in the ollama container: \(result.timedOut ? "timed out" : "exit \(result.status)"): \((result.stderr + "\n" + result.stdout).lastLines(2))",
                remedy: "Look at \(command(["logs", "--tail", "50", "ollama"])).")
        }
        let present = Self.modelNames(result.stdout)
        let missing = OllamaModels.missing(wanted, present: Set(present))
        if missing.isEmpty {
            return .pass(
                "models",
                wanted.isEmpty
                    ? "the profile pulls no models; ollama answers" : "present: \(wanted.joined(separator: ", "))")
        }
        return .fail(
            "models",
            "missing: \(missing.joined(separator: ", ")) (ollama has \(present.isEmpty ? "none" : present.joined(separator: ", ")))",
            remedy:
                "Pull them: `sbs install --from pull-models`, or \(command(["exec", "ollama", "ollama", "pull", missing[0]]))\(missing.count > 1 ? " for each" : "")."
        )
    }

    /// The NAME column of `ollama list` (header line skipped).
    static func modelNames(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line -> String? in
            guard let first = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init),
                first != "NAME"
            else { return nil }
            return first
        }
    }

    /// Grafana (the `monitoring` service) reports healthy, when the profile runs monitoring.
    func grafana(_ containers: Result<[ComposeContainer], UserError>) -> VerifyCheck {
        guard let profile = target.profile else {
            return .fail(
                "grafana", "the profile is not known (choose-profile has not run)", remedy: remedyProfileUnknown)
        }
        guard profile.monitoring else { return .skip("grafana", "monitoring is off in this profile") }
        guard profile.grafana else { return .skip("grafana", "basic monitoring runs no Grafana") }
        let list: [ComposeContainer]
        switch containers {
        case .failure(let error):
            return .fail(
                "grafana", "the containers could not be listed: \(error.message)",
                remedy: error.remedy ?? "Check that Docker runs (`docker info`).")
        case .success(let found): list = found
        }
        guard let grafana = list.first(where: { $0.service == "monitoring" }) else {
            return .fail(
                "grafana", "no monitoring container in the project \(target.project.name)",
                remedy:
                    "Start it: `sbs install --from start-stack` (COMPOSE_PROFILES in \(target.project.directory)/.env must include grafana)."
            )
        }
        if grafana.state == "running" && grafana.health == "healthy" {
            return .pass("grafana", "\(grafana.name): running, healthy")
        }
        return .fail(
            "grafana",
            "\(grafana.name): \(grafana.state)\(grafana.health.isEmpty ? ", no health reported" : ", \(grafana.health)")",
            remedy: "Look at \(command(["logs", "--tail", "50", "monitoring"])).")
    }

    /// Every target Prometheus scrapes answers (the exporters, Kong's Status API, the site's probes, Prometheus,
    /// Alertmanager and Grafana themselves), read from Prometheus's own API inside its container: a target that is
    /// down names its job, its address and the error Prometheus got. A target Prometheus has not scraped yet (a stack
    /// just started: the first scrape may be a whole interval away), or whose last scrape failed (a service recreated
    /// since), is scraped now from Prometheus's container, at its scrape URL: only one that does not answer now fails.
    func monitoringTargets() async -> VerifyCheck {
        let id = "monitoring-targets"
        guard let profile = target.profile else {
            return .fail(id, "the profile is not known (choose-profile has not run)", remedy: remedyProfileUnknown)
        }
        guard profile.monitoring else { return .skip(id, "monitoring is off in this profile") }
        let logs = command(["logs", "--tail", "50", "prometheus"])
        let result: CommandResult
        do {
            result = try await probe.exec(
                "prometheus", ["wget", "-q", "-O", "-", "http://127.0.0.1:9090/api/v1/targets?state=active"])
        } catch {
            return .fail(id, "Prometheus could not be asked: \(error.message)", remedy: "Look at \(logs).")
        }
        guard result.status == 0 else {
            return .fail(
                id, "Prometheus did not answer (exit \(result.status)): \(result.stderr.lastLines(1))",
                remedy: "Look at \(logs).")
        }
        guard let targets = PrometheusTargets.parse(result.stdout), !targets.isEmpty else {
            return .fail(id, "Prometheus listed no targets it scrapes", remedy: "Look at \(logs).")
        }
        var named: [String] = []
        for target in targets where target.health != "up" {
            // Down at Prometheus's last scrape, or not scraped yet: either may be over by now (a service that was
            // just recreated, a stack just started), so the target is scraped now, as Prometheus would.
            let scraped: CommandResult
            do {
                scraped = try await probe.exec("prometheus", ["wget", "-q", "-O", "/dev/null", target.scrapeURL])
            } catch {
                return .fail(
                    id, "Prometheus's container could not be asked: \(error.message)", remedy: "Look at \(logs).")
            }
            guard scraped.status != 0 else { continue }
            if target.health == "down" {
                named.append(
                    "\(target.job) \(target.instance): \(target.lastError.isEmpty ? "down" : target.lastError)")
            } else {
                named.append(
                    "\(target.job) \(target.instance): not scraped yet, and no answer now (\(scraped.stderr.lastLines(1)))"
                )
            }
        }
        guard named.isEmpty else {
            return .fail(
                id, "\(named.count) of \(targets.count) targets not up: \(named.joined(separator: "; "))",
                remedy:
                    "A job names its service (node: node-exporter, postgres: postgres-exporter, kong: app-kong's Status API on port 8100, site: the site's probes through blackbox-exporter); look at \(command(["logs", "--tail", "50", "SERVICE"])), and `sbs verify` again."
            )
        }
        return await exportersSucceed(targets)
    }

    /// The alerts' way to a person, as far as this server goes: Prometheus sends its alerts to a running Alertmanager
    /// (`/api/v1/alertmanagers`), and the configuration Alertmanager runs with (`/api/v2/status`) routes them to the
    /// receiver `person` with the integrations the answers give (mail, webhook), or none when they name nobody.
    /// Whether the relay or the webhook accepts a notification is `sbs alerts test`'s.
    func alerting() async -> VerifyCheck {
        let id = "alerting"
        guard let profile = target.profile else {
            return .fail(id, "the profile is not known (choose-profile has not run)", remedy: remedyProfileUnknown)
        }
        guard profile.monitoring else { return .skip(id, "monitoring is off in this profile") }
        let prometheusLogs = command(["logs", "--tail", "50", "prometheus"])
        let alertmanagerLogs = command(["logs", "--tail", "50", "alertmanager"])
        let senders: [String]
        do {
            let result = try await probe.exec(
                "prometheus", ["wget", "-q", "-O", "-", "http://127.0.0.1:9090/api/v1/alertmanagers"])
            guard result.status == 0, let active = Alerting.activeAlertmanagers(result.stdout) else {
                return .fail(
                    id,
                    "Prometheus did not say where it sends alerts (exit \(result.status)): \(result.stderr.lastLines(1))",
                    remedy: "Look at \(prometheusLogs).")
            }
            senders = active
        } catch {
            return .fail(id, "Prometheus could not be asked: \(error.message)", remedy: "Look at \(prometheusLogs).")
        }
        guard !senders.isEmpty else {
            return .fail(
                id, "Prometheus has no Alertmanager to send its alerts to",
                remedy:
                    "Check that alertmanager runs (`sbs verify`'s containers check), then look at \(prometheusLogs).")
        }
        let found: [String]
        do {
            let result = try await probe.exec(
                "alertmanager", ["wget", "-q", "-O", "-", "http://127.0.0.1:9093/api/v2/status"])
            guard result.status == 0, let integrations = Alerting.personIntegrations(result.stdout) else {
                return .fail(
                    id,
                    "Alertmanager did not show its configuration (exit \(result.status)): \(result.stderr.lastLines(1))",
                    remedy: "Look at \(alertmanagerLogs).")
            }
            found = integrations
        } catch {
            return .fail(
                id, "Alertmanager could not be asked: \(error.message)", remedy: "Look at \(alertmanagerLogs).")
        }
        let expected = target.alertIntegrations.sorted()
        guard found == expected else {
            let runs = found.isEmpty ? "nothing" : found.joined(separator: ", ")
            let wanted = expected.isEmpty ? "nobody" : expected.joined(separator: ", ")
            return .fail(
                id, "Alertmanager sends to \(runs), the answers say \(wanted)",
                remedy:
                    "`sbs install` writes monitoring/alertmanager/alertmanager.yml again and restarts Alertmanager with it; then `sbs alerts test`."
            )
        }
        let to = senders.joined(separator: ", ")
        guard !expected.isEmpty else {
            return .pass(
                id,
                "Prometheus sends to \(to); the answers name nobody to alert (alerts:), so Alertmanager sends nothing")
        }
        return .pass(
            id,
            "Prometheus sends to \(to); Alertmanager sends by \(expected.joined(separator: " and ")) (`sbs alerts test` proves the way)"
        )
    }

    /// Only nginx publishes ports on public addresses, and only its 80 and 443 (TCP); no container started beside the
    /// stack publishes one either (`engine`: every running container; one that cannot be listed is a failure).
    func publishedPorts(
        _ containers: Result<[ComposeContainer], UserError>, engine: Result<[ContainerPrivileges], UserError>
    ) -> VerifyCheck {
        let list: [ComposeContainer]
        switch containers {
        case .failure(let error):
            return .fail(
                "published-ports", "the containers could not be listed: \(error.message)",
                remedy: error.remedy ?? "Check that Docker runs (`docker info`).")
        case .success(let found): list = found
        }
        var allowed: [String] = []
        var refused: [String] = []
        for container in list {
            for port in container.publishers where port.publishedPort != 0 && !port.isLoopback {
                let address = port.url.isEmpty ? "*" : port.url.contains(":") ? "[\(port.url)]" : port.url
                let text = "\(container.service) \(address):\(port.publishedPort)→\(port.targetPort)/\(port.protocol)"
                if container.service == "nginx" && [80, 443].contains(port.targetPort) && port.protocol == "tcp" {
                    allowed.append(text)
                } else {
                    refused.append(text)
                }
            }
        }
        let others: [ContainerPrivileges]
        switch engine {
        case .failure(let error):
            return .fail(
                "published-ports", "the engine's containers could not be listed: \(error.message)",
                remedy: error.remedy ?? "Check that Docker runs (`docker info`).")
        case .success(let found): others = found.filter { $0.project != target.project.name }
        }
        var beside: [String] = []
        var otherInstallations: Set<String> = []
        for container in others {
            for port in container.published where !port.isLoopback {
                // Another sbs installation's nginx on this engine (the demo beside a test install, say) publishes
                // its own site: what its own verify checks.
                if container.renderedBySBS, container.service == "nginx", [80, 443].contains(port.containerPort),
                    port.protocol == "tcp"
                {
                    otherInstallations.insert(container.project ?? container.name)
                    continue
                }
                let address = port.hostIP.isEmpty ? "*" : port.hostIP.contains(":") ? "[\(port.hostIP)]" : port.hostIP
                beside.append(
                    "\(container.name) \(address):\(port.hostPort)→\(port.containerPort)/\(port.protocol)")
            }
        }
        if !beside.isEmpty {
            let names = Set(beside.map { String($0.prefix { $0 != " " }) }).sorted()
            return .fail(
                "published-ports",
                "containers started beside the stack publish on public addresses: \(beside.joined(separator: ", "))"
                    + (refused.isEmpty ? "" : "; and in the stack: \(refused.joined(separator: ", "))"),
                remedy:
                    "Stop \(names.joined(separator: ", ")) (`docker stop NAME`), or publish on 127.0.0.1 only (`-p 127.0.0.1:PORT:PORT`): the host firewall does not stand between Docker's published ports and the internet."
            )
        }
        if refused.isEmpty {
            let others =
                otherInstallations.isEmpty
                ? ""
                : "; besides, the nginx of another sbs installation on this engine (\(otherInstallations.sorted().joined(separator: ", ")))"
            return .pass(
                "published-ports",
                (allowed.isEmpty
                    ? "nothing is published on a public address" : "only \(allowed.joined(separator: ", "))") + others
            )
        }
        let services = Set(refused.map { String($0.prefix { $0 != " " }) }).sorted()
        return .fail(
            "published-ports",
            "published on public addresses besides nginx's 80 and 443: \(refused.joined(separator: ", "))",
            remedy:
                "Remove the `ports:` of \(services.joined(separator: ", ")) from \(target.project.composeFile) (sbs writes none: `sbs install --from write-configs` restores it), or bind them to 127.0.0.1; then \(command(["up", "-d"]))."
        )
    }
}

extension StackChecks {
    /// An exporter answers even when what it looks at fails: postgres-exporter with `pg_up 0` when it cannot log in to
    /// app-db, blackbox-exporter with `probe_success 0` for a probe that failed. Prometheus's last samples may be
    /// from before the stack was ready, so each of those targets is scraped once more now, from Prometheus's
    /// container and at the address Prometheus scrapes.
    func exportersSucceed(_ targets: [PrometheusTargets.Target]) async -> VerifyCheck {
        let id = "monitoring-targets"
        let watched = ["postgres": "pg_up", "site": "probe_success"]
        var failures: [String] = []
        for target in targets {
            guard let metric = watched[target.job] else { continue }
            // A failed scrape is made once more: postgres-exporter drops a connection that a restart of app-db broke
            // on the scrape that finds it broken, and reconnects on the next.
            var value: String?
            for attempt in 1...2 where value != "1" {
                if attempt > 1 { try? await Task.sleep(for: retryPause) }
                do {
                    let result = try await probe.exec("prometheus", ["wget", "-q", "-O", "-", target.scrapeURL])
                    value = result.status == 0 ? PrometheusTargets.sample(metric, in: result.stdout) : nil
                } catch {
                    return .fail(
                        id, "Prometheus's container could not be asked: \(error.message)",
                        remedy: "Look at \(command(["logs", "--tail", "50", "prometheus"])).")
                }
            }
            guard value != "1" else { continue }
            failures.append(
                target.job == "postgres"
                    ? "postgres: postgres-exporter cannot read app-db (pg_up \(value ?? "missing"))"
                    : "site \(target.instance): the probe failed (probe_success \(value ?? "missing"))")
        }
        if failures.isEmpty {
            let jobs = Set(targets.map(\.job)).sorted()
            return .pass(id, "\(targets.count) targets up (\(jobs.joined(separator: ", ")))")
        }
        return .fail(
            id, failures.joined(separator: "; "),
            remedy:
                "A probe goes through nginx as a visitor's request does: the site checks above say more, and \(command(["logs", "--tail", "50", "blackbox-exporter"])) (with --log.level=debug) why it failed. postgres-exporter's login is set by start-stack (`sbs install --from start-stack`); \(command(["logs", "--tail", "50", "postgres-exporter"])) says why it fails."
        )
    }
}

/// What Prometheus and Alertmanager say about the way of the alerts.
enum Alerting {
    private struct Alertmanagers: Decodable {
        struct Data: Decodable {
            struct Active: Decodable { var url: String }
            var activeAlertmanagers: [Active]
        }
        var status: String
        var data: Data
    }

    private struct Status: Decodable {
        struct Config: Decodable { var original: String }
        var config: Config
    }

    /// The URLs of Prometheus's `/api/v1/alertmanagers`; nil when the text is not its answer.
    static func activeAlertmanagers(_ text: String) -> [String]? {
        guard let response = try? JSONDecoder().decode(Alertmanagers.self, from: Data(text.utf8)),
            response.status == "success"
        else { return nil }
        return response.data.activeAlertmanagers.map(\.url)
    }

    /// The integrations (`email`, `webhook`, …, sorted) of the receiver `person` in the configuration of
    /// Alertmanager's `/api/v2/status`, as Alertmanager writes it back (YAML, block style: `- name: person` at the
    /// start of an item of `receivers:`, at the margin or indented, its `KIND_configs:` keys two columns further);
    /// nil when the text is not that answer or has no receiver `person`.
    static func personIntegrations(_ text: String) -> [String]? {
        guard let status = try? JSONDecoder().decode(Status.self, from: Data(text.utf8)) else { return nil }
        var inReceivers = false
        var itemIndent: Int?
        var inPerson = false
        var found: Set<String> = []
        var sawPerson = false
        for line in status.config.original.split(separator: "\n", omittingEmptySubsequences: true) {
            let indent = line.prefix { $0 == " " }.count
            let body = line.dropFirst(indent)
            // A top-level key (the items of a top-level sequence may start at the margin too: `- name: …`).
            if indent == 0, !body.hasPrefix("- ") {
                inReceivers = body.hasPrefix("receivers:")
                inPerson = false
                continue
            }
            guard inReceivers else { continue }
            if body.hasPrefix("- "), itemIndent == nil || indent == itemIndent {
                itemIndent = indent
                inPerson = body == "- name: person"
                sawPerson = sawPerson || inPerson
                continue
            }
            guard inPerson, let itemIndent, indent == itemIndent + 2, body.hasSuffix("_configs:") else { continue }
            found.insert(String(body.dropLast("_configs:".count)))
        }
        return sawPerson ? found.sorted() : nil
    }
}

/// A target of Prometheus's `/api/v1/targets`: its job, address and health (up, down, unknown).
struct PrometheusTargets {
    struct Target: Equatable {
        var job: String
        var instance: String
        var health: String
        var lastError: String
        /// Where Prometheus scrapes it (a probe's URL names its module and target).
        var scrapeURL: String
    }

    private struct Response: Decodable {
        struct Data: Decodable { var activeTargets: [Active] }
        struct Active: Decodable {
            var labels: [String: String]
            var scrapeUrl: String?
            var health: String
            var lastError: String?
        }
        var status: String
        var data: Data
    }

    /// The value of the sample of `metric` without labels in Prometheus's text format; nil when there is none.
    static func sample(_ metric: String, in text: String) -> String? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, fields[0] == metric { return String(fields[1]) }
        }
        return nil
    }

    /// nil when the text is not Prometheus's answer.
    static func parse(_ text: String) -> [Target]? {
        guard let response = try? JSONDecoder().decode(Response.self, from: Data(text.utf8)),
            response.status == "success"
        else { return nil }
        return response.data.activeTargets.map {
            Target(
                job: $0.labels["job"] ?? "?", instance: $0.labels["instance"] ?? $0.scrapeUrl ?? "?",
                health: $0.health, lastError: $0.lastError ?? "", scrapeURL: $0.scrapeUrl ?? "")
        }
    }
}
