import Deploy
import FoundationEssentials
import SBSCore
import StepGraph

/// `start-proxy`: the stack's nginx alone, with the HTTP bootstrap config (`nginx/bootstrap.conf`: the ACME
/// webroot and a health server, no TLS, no upstreams), so the CA can reach the challenge files before any
/// certificate exists. `start-stack` later switches it to the TLS config. An nginx that already runs (a
/// re-install, a renewal setup) is left as it is: it serves the webroot with either config, and restarting it
/// would interrupt the site for nothing.
struct StartProxy: StepAction {
    static let name = "start-proxy"
    let tools: InstallTools
    var deadline: Duration = .seconds(180)

    struct Input: Codable, Hashable, Sendable {
        var stack: StackSource
        /// Where the rendered files are.
        var configs: WriteConfigs.Output
        /// secrets.env: on a swarm, the values of the Docker secrets the stack file names.
        var secretsFile: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(
            stack: try StackSource(context, needs: needs), configs: try needs.output(of: WriteConfigs.self),
            secretsFile: context.layout.secretsFile)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Nothing> {
        let driver = input.stack.driver(tools, log: log)
        if let nginx = try await input.stack.project.containers(tools.commands).first(where: {
            $0.service == "nginx" && $0.state == "running"
        }) {
            log.progress(
                "nginx already runs (\(nginx.name), \(nginx.health.isEmpty ? nginx.state : nginx.health)); it serves the ACME webroot as it is"
            )
            return StepResult()
        }
        if input.stack.project.target == .swarm {
            // A stack is deployed whole: the services start with nginx, which alone is waited for.
            log.progress("deploying the stack with nginx on the HTTP bootstrap config")
            _ = try await SwarmDeploy(stack: input.stack, secretsFile: input.secretsFile, tools: tools).run(
                variables: ["NGINX_CONF=bootstrap.conf"], services: ["nginx"], log: log, deadline: deadline)
            log.progress("nginx serves the ACME webroot")
            return StepResult()
        }
        // Every image of the stack, not nginx's alone: a missing or unreachable image fails here, before the CA is
        // asked for a certificate.
        try await input.stack.ensureImages(driver, tools: tools)
        log.progress("starting nginx alone with the HTTP bootstrap config")
        try await driver.up(["nginx"], noDeps: true, variables: ["NGINX_CONF=bootstrap.conf"], deadline: deadline)
        log.progress("nginx serves the ACME webroot")
        return StepResult()
    }
}
