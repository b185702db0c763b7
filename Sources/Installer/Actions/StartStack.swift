import Deploy
import FoundationEssentials
import Processes
import SBSCore
import StepGraph

/// `start-stack`: every service of the profile up and healthy, nginx on its TLS config. Images already on the
/// engine are used as they are; missing ones are pulled with a line each. The application services come up
/// first (compose waits along `depends_on: service_healthy`, and each health change is shown); then the TLS
/// config is checked with `nginx -t` inside the running nginx, where the upstream names resolve, before nginx is
/// switched to it. It reads the running stack, so it runs on every run: a stopped container is started again, and
/// on a healthy stack `docker compose up` changes nothing and restarts nothing.
struct StartStack: StepAction {
    static let name = "start-stack"
    static let observes = true
    let tools: InstallTools
    var deadline: Duration = .seconds(900)

    struct Input: Codable, Hashable, Sendable {
        var stack: StackSource
        var configs: WriteConfigs.Output
        var certificate: ObtainCertificate.Output
    }

    struct Output: Codable, Hashable, Sendable {
        /// The services running, sorted.
        var services: [String]
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(stack: try StackSource(context, needs: needs), configs: try needs.output(of: WriteConfigs.self),
              certificate: try needs.output(of: ObtainCertificate.self))
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let driver = input.stack.driver(tools, log: log)
        let hashes = try await driver.configHashes()
        let services = hashes.keys.sorted()
        if try await driver.isUpToDate(services, hashes: hashes) {
            log.progress("all \(services.count) services run, are healthy and were started from the current configuration: nothing to change")
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
        if try await input.stack.project.containers(tools.commands).contains(where: { $0.service == "nginx" && $0.state == "running" }) {
            let test = try await driver.exec("nginx", ["nginx", "-t", "-c", "/etc/nginx/sbs/nginx.conf"])
            guard test.status == 0 else {
                throw UserError("The TLS config of nginx does not pass `nginx -t`: \((test.stderr + "\n" + test.stdout).lastLines(3))",
                                remedy: "Check \(input.configs.deployDir)/nginx/nginx.conf and the certificate in \(input.certificate.liveDirectory); `sbs install --from write-configs` writes the config again. nginx keeps serving its current config meanwhile.")
            }
            log.progress("nginx -t accepts the TLS config")
        }
        // A changed mounted config (nginx.conf, kong.yml …) changes its service's `sbs.config-digest` label, so
        // compose recreates exactly the services whose files changed.
        try await driver.up(deadline: deadline)
        log.progress("all \(services.count) services are running and healthy")
        return StepResult(Output(services: services))
    }
}
