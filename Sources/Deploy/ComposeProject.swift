import Crypto
import FoundationEssentials
import Host
import Processes
import SBSCore

/// The stack's compose project: its name and the deploy folder holding `docker-compose.yml` and `.env`. Every
/// `docker compose` command sbs runs is built here, so all of them name the same project and files. On a swarm
/// (`target`) the name is the stack's and the file `docker-stack.yml`; its containers and `exec` go through
/// `SwarmStack`.
public struct ComposeProject: Sendable, Hashable, Codable {
    /// The compose project name: container, network and volume names start with it (`sbs_postgres_data`).
    public var name: String
    /// The deploy folder (`paths.deploy_dir` under the root).
    public var directory: String
    /// compose, or a swarm stack.
    public var target: DeployTarget

    public init(name: String, directory: String, target: DeployTarget = .compose) {
        self.name = name
        self.directory = directory
        self.target = target
    }

    enum CodingKeys: String, CodingKey { case name, directory, target }

    /// A project recorded before sbs knew targets is a compose one.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        directory = try container.decode(String.self, forKey: .directory)
        target = try container.decodeIfPresent(DeployTarget.self, forKey: .target) ?? .compose
    }

    /// The project of an install under `root`: `sbs` on a real install (`--root /`); under another root (a demo,
    /// a test) `sbs-` and 8 hex digits of the root's SHA-256, so an install under a folder never touches the
    /// containers or volumes of the real one, nor of another folder's.
    public static func name(forRoot root: String) -> String {
        root == "/" ? "sbs" : "sbs-" + SHA256.hash(data: Data(root.utf8)).prefix(4).hex
    }

    public var composeFile: String { directory + "/" + target.stackFile }

    /// The named volume compose creates for `volume` (`postgres_data` → `sbs_postgres_data`).
    public func volume(_ volume: String) -> String { name + "_" + volume }

    /// `docker compose` with this project's name, folder and file, then `arguments`. Compose reads `.env` from the
    /// project folder itself: no secret is ever in the argv or the environment of the command.
    public func command(_ arguments: [String]) -> [String] {
        ["docker", "compose", "--project-name", name, "--project-directory", directory, "--file", composeFile]
            + arguments
    }

    /// Every container of the project, running or not (`docker compose ps --all --format json`); on a swarm, the
    /// stack's running containers on this node.
    /// - Throws: `UserError` when compose fails or prints what cannot be read.
    public func containers(_ runner: any CommandRunner) async throws(UserError) -> [ComposeContainer] {
        if target == .swarm {
            return try await SwarmStack(project: self, runner: runner, progress: { _ in }).containers()
        }
        let result = try await runner.run(command(["ps", "--all", "--format", "json"]), timeout: .seconds(60))
        guard result.status == 0 else {
            throw UserError(
                "`docker compose ps` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \(result.stderr.lastLines(3))",
                remedy: "Check that the Docker engine runs (`docker info`) and that \(composeFile) exists.")
        }
        return try ComposeContainer.parse(result.stdout)
    }

    /// The argv that runs `argv` inside the running container of `service`: `docker compose exec -T`, or on a
    /// swarm `docker exec -i` into the service's healthy (else running) task on this node.
    /// - Throws: `UserError` on a swarm when no task of `service` runs on this node.
    public func exec(_ service: String, _ argv: [String], runner: any CommandRunner) async throws(UserError)
        -> [String]
    {
        guard target == .swarm else { return command(["exec", "-T", service] + argv) }
        let running = try await containers(runner).filter { $0.service == service && $0.state == "running" }
        guard let container = running.first(where: \.isReady) ?? running.first else {
            throw UserError(
                "No task of \(service) runs on this node.",
                remedy:
                    "sbs reaches \(service) on the node it runs on (`docker stack ps \(name)` shows where); run sbs there, or place \(service) on this node (README: \"Docker Swarm\")."
            )
        }
        return ["docker", "exec", "-i", container.name] + argv
    }

    /// A command for a person to run, in a remedy: `docker compose …` with this project's name and files; on a
    /// swarm what does the same there (`up` is sbs's own start-stack; `logs`, `restart` and `exec` act on the
    /// stack's services).
    public func commandLine(_ arguments: [String]) -> String {
        guard target == .swarm, let verb = arguments.first else { return command(arguments).joined(separator: " ") }
        let services = arguments.dropFirst().filter { StackService(rawValue: $0) != nil || $0 == "SERVICE" }
        let tasks = { (service: String) in
            "$(docker ps -q --filter label=com.docker.swarm.service.name=\(name)_\(service))"
        }
        switch verb {
        case "up": return "sbs install --from start-stack"
        case "logs" where !services.isEmpty:
            return services.map { "docker service logs --tail 50 \(name)_\($0)" }.joined(separator: "; ")
        case "restart" where !services.isEmpty:
            return services.map { "docker service update --force \(name)_\($0)" }.joined(separator: "; ")
        case "exec" where arguments.count > 2:
            return (["docker", "exec", "-it", tasks(arguments[1])] + arguments.dropFirst(2)).joined(separator: " ")
        default: return "docker stack ps \(name)"
        }
    }
}
