import Deploy
import Render
import SBSCore
import StepGraph

/// What start-proxy and start-stack do on a swarm (answers `target: swarm`): every image present, the Docker
/// secrets the stack file names made from secrets.env (those missing), `docker stack deploy`, and the wait until
/// the services converge.
struct SwarmDeploy {
    let stack: StackSource
    /// secrets.env, where the values of the stack's Docker secrets are.
    let secretsFile: String
    let tools: InstallTools

    /// - Parameters:
    ///   - variables: `NAME=value` pairs the stack file reads (`NGINX_CONF=bootstrap.conf`).
    ///   - services: those waited for; all when empty.
    /// - Returns: the stack's services, converged.
    func run(variables: [String] = [], services: [String] = [], log: StepLog, deadline: Duration) async throws
        -> [SwarmStack.Service]
    {
        let project = stack.project
        let swarm = SwarmStack(project: project, runner: tools.commands) { log.progress($0) }
        try await stack.ensureImages(stack.driver(tools, log: log), tools: tools)
        let declared = try readDeclared()
        let secrets = try SecretsFile(path: secretsFile).load()
        let objects = try SwarmObjects(project: project.name, secrets: secrets)
        var values: [(name: String, value: String)] = []
        for secret in declared.secrets where secret.external {
            let name = try SecretName(secret.key)
            guard let value = secrets[name], objects.secret(name, value: value) == secret.name else {
                throw UserError(
                    "\(project.composeFile) names a version of \(secret.key) that is not the one in \(secretsFile).",
                    remedy:
                        "Run `sbs install --from write-configs` to write the stack file for the secrets as they are.")
            }
            values.append((secret.name, value))
        }
        let made = try await swarm.ensureSecrets(values)
        if !made.isEmpty { log.progress("Docker secrets made: \(made.joined(separator: ", "))") }
        let before = try await swarm.services()
        var registryConfig: String?
        if let login = try stack.registry?.login(tools) {
            try login.writeConfig()
            registryConfig = login.configDirectory
        }
        log.progress("docker stack deploy \(project.name) (\(project.composeFile))")
        try await swarm.deploy(variables: variables, registryConfig: registryConfig)
        try await swarm.waitConverged(services, before: before, deadline: deadline)
        return try await swarm.services()
    }

    /// Removes the versions of Docker secrets and configs the stack file no longer names.
    func prune(log: StepLog) async throws {
        let declared = try readDeclared()
        let swarm = SwarmStack(project: stack.project, runner: tools.commands) { log.progress($0) }
        let removed = try await swarm.pruneObjects(keeping: Set((declared.secrets + declared.configs).map(\.name)))
        if removed > 0 { log.progress("\(removed) earlier versions of Docker secrets and configs removed") }
    }

    func readDeclared() throws(UserError) -> (secrets: [SwarmObjects.Declared], configs: [SwarmObjects.Declared]) {
        guard let text = try AtomicFile.readText(stack.project.composeFile, limit: .config) else {
            throw UserError(
                "\(stack.project.composeFile) is missing.",
                remedy: "Run `sbs install --from write-configs` to write it again.")
        }
        return try SwarmObjects.declared(in: text)
    }
}
