import Deploy
import FoundationEssentials
import Host
import Processes
import SBSCore
import StepGraph
import Wizard

/// `start-stack`: every service of the profile up and healthy, nginx on its TLS config. Images already on the
/// engine are used as they are; missing ones are pulled with a line each. The application services come up
/// first (compose waits along `depends_on: service_healthy`, and each health change is shown); then the TLS
/// config is checked with `nginx -t` inside the running nginx, where the upstream names resolve, before nginx is
/// switched to it. It reads the running stack, so it runs on every run: a stopped container is started again, and
/// on a healthy stack `docker compose up` changes nothing and restarts nothing. Last, nginx must serve the live
/// certificate: one installed while nginx ran (a re-issue by `obtain-certificate`, a new CA) changes no
/// configuration, so nothing above restarts nginx, and nginx serves the certificate it loaded until it is told to
/// reload (see `ServedCertificate`). On a swarm (answers `target: swarm`) it deploys the stack instead and waits
/// for every service to converge (`runSwarm`).
struct StartStack: StepAction {
    static let name = "start-stack"
    static let observes = true
    let tools: InstallTools
    var deadline: Duration = .seconds(900)
    /// Reads the certificate nginx presents (see `ServedCertificate`).
    var certificateProbe: any CertificateProbe = TLSCertificateProbe()
    /// How long a reload of nginx may take to show the live certificate.
    var reloadSettle: Duration = .seconds(30)

    struct Input: Codable, Hashable, Sendable {
        var stack: StackSource
        var configs: WriteConfigs.Output
        var certificate: ObtainCertificate.Output
        /// Where nginx's HTTPS server is reached from this server, to read the certificate it serves.
        var https: HTTPSEndpoint
        /// secrets.env: on a swarm, the values of the Docker secrets the stack file names.
        var secretsFile: String
    }

    struct Output: Codable, Hashable, Sendable {
        /// The services running, sorted.
        var services: [String]
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        guard let domain = context.answers.domain?.value else {
            throw UserError(
                "The answers give no domain to serve.", remedy: "Add `domain` to the answers and run `sbs install`.")
        }
        return Input(
            stack: try StackSource(context, needs: needs), configs: try needs.output(of: WriteConfigs.self),
            certificate: try needs.output(of: ObtainCertificate.self),
            https: HTTPSEndpoint(name: domain, port: context.answers.httpsPort.value),
            secretsFile: context.layout.secretsFile)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        if input.stack.project.target == .swarm { return try await runSwarm(input, log: log) }
        let driver = input.stack.driver(tools, log: log)
        let hashes = try await driver.configHashes()
        let services = hashes.keys.sorted()
        if try await driver.isUpToDate(services, hashes: hashes) {
            log.progress(
                "all \(services.count) services run, are healthy and were started from the current configuration: nothing to change"
            )
            try await ensureMonitoringRole(services, driver: driver, log: log)
            try await servesLiveCertificate(input, driver: driver, log: log)
            return StepResult(Output(services: services))
        }
        try await input.stack.ensureImages(driver, tools: tools)
        let applications = services.filter { $0 != "nginx" }
        let running = try await input.stack.project.containers(tools.commands)
        if applications.allSatisfy({ name in running.contains { $0.service == name && $0.isReady } }) {
            log.progress("\(applications.joined(separator: ", ")) run and are healthy")
        } else {
            log.progress("starting \(applications.joined(separator: ", "))")
            try await driver.up(applications, deadline: deadline)
        }
        if try await input.stack.project.containers(tools.commands).contains(where: {
            $0.service == "nginx" && $0.state == "running"
        }) {
            let test = try await driver.exec("nginx", ["nginx", "-t", "-c", ComposeDriver.nginxConfig])
            guard test.status == 0 else {
                throw UserError(
                    "The TLS config of nginx does not pass `nginx -t`: \((test.stderr + "\n" + test.stdout).lastLines(3))",
                    remedy:
                        "Check \(input.configs.deployDir)/nginx/nginx.conf and the certificate in \(input.certificate.liveDirectory); `sbs install --from write-configs` writes the config again. nginx keeps serving its current config meanwhile."
                )
            }
            log.progress("nginx -t accepts the TLS config")
        }
        // A changed mounted config (nginx.conf, kong.yml …) changes its service's `sbs.config-digest` label, so
        // compose recreates exactly the services whose files changed.
        try await driver.up(deadline: deadline)
        log.progress("all \(services.count) services are running and healthy")
        try await ensureMonitoringRole(services, driver: driver, log: log)
        // An nginx that was not recreated above still serves the certificate it loaded when it started.
        try await servesLiveCertificate(input, driver: driver, log: log)
        return StepResult(Output(services: services))
    }

    /// On a swarm: the Docker secrets the stack file names made (those missing), `docker stack deploy`, then every
    /// service converged: its desired tasks running and healthy, no update rolled back. An unchanged stack file
    /// changes no task. Versions of secrets and configs that nothing names any more are removed last.
    func runSwarm(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let deploy = SwarmDeploy(stack: input.stack, secretsFile: input.secretsFile, tools: tools)
        let services = try await deploy.run(log: log, deadline: deadline)
        log.progress(
            "all \(services.count) services converged: "
                + services.map { "\($0.name) \($0.running)/\($0.desired)" }.joined(separator: ", "))
        let driver = input.stack.driver(tools, log: log)
        let names = services.map(\.name)
        try await ensureMonitoringRole(names, driver: driver, log: log)
        try await servesLiveCertificate(input, driver: driver, log: log)
        try await deploy.prune(log: log)
        return StepResult(Output(services: names))
    }

    /// With monitoring, postgres-exporter's login in app-db (db/monitoring-role.sql: created when missing, its
    /// password set from app-db's environment each run, so a database restored from a backup or a changed secret
    /// follows). Idempotent; nothing restarts.
    func ensureMonitoringRole(_ services: [String], driver: ComposeDriver, log: StepLog) async throws {
        guard services.contains(StackService.postgresExporter.rawValue) else { return }
        let result = try await driver.exec(
            "app-db", ["psql", "-U", "postgres", "-d", "postgres", "-X", "-q", "-f", Self.monitoringRoleSQL])
        guard result.status == 0 else {
            throw UserError(
                "app-db did not set up postgres-exporter's role (sbs_monitor): \((result.stderr + "\n" + result.stdout).lastLines(3))",
                remedy:
                    "Check that app-db runs (`sbs status`) and that MONITORING_DB_PASSWORD is in the deploy folder's .env; `sbs install --from write-configs` writes both again."
            )
        }
        log.progress("app-db: postgres-exporter's read-only role is set")
    }

    /// Where app-db's compose service mounts db/monitoring-role.sql.
    static let monitoringRoleSQL = "/etc/sbs/db/monitoring-role.sql"

    func servesLiveCertificate(_ input: Input, driver: ComposeDriver, log: StepLog) async throws {
        try await ServedCertificate(
            endpoint: input.https, liveDirectory: input.certificate.liveDirectory,
            probe: certificateProbe, settle: reloadSettle
        ).ensureServed(driver, log: log)
    }
}
