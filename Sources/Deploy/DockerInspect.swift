import FoundationEssentials
import Processes
import SBSCore

/// `docker inspect --type container` of some containers, decoded: what `ContainerMetrics` and
/// `ContainerPrivileges` read, each with its own `Decodable` view of the same JSON array.
enum DockerInspect {
    /// The project and service of a container by its labels: compose's (`com.docker.compose.project`,
    /// `com.docker.compose.service`), or a swarm stack's (`com.docker.stack.namespace`, and
    /// `com.docker.swarm.service.name`, which is `STACK_SERVICE`). Nil for a container of neither.
    static func stackService(_ labels: [String: String]) -> (project: String?, service: String?) {
        if let project = labels["com.docker.compose.project"] {
            return (project, labels["com.docker.compose.service"])
        }
        guard let stack = labels["com.docker.stack.namespace"] else { return (nil, nil) }
        let service = labels["com.docker.swarm.service.name"].flatMap { name in
            name.hasPrefix(stack + "_") ? String(name.dropFirst(stack.count + 1)) : nil
        }
        return (stack, service)
    }

    /// Runs `docker inspect` on `names`. A container that went away since it was listed ("No such container", exit
    /// 1) is left out; the others are decoded.
    /// - Throws: `UserError` when docker fails or prints what cannot be read.
    static func containers<Item: Decodable>(_ names: [String], as: Item.Type, runner: any CommandRunner)
        async throws(UserError) -> [Item]
    {
        if names.isEmpty { return [] }
        let result = try await runner.run(["docker", "inspect", "--type", "container"] + names, timeout: .seconds(60))
        let vanished = result.stderr.split(separator: "\n").allSatisfy { $0.contains("No such container") }
        guard result.status == 0 || (!result.timedOut && vanished && result.stdout.trimmed.hasPrefix("[")) else {
            throw UserError(
                "`docker inspect` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \(result.stderr.lastLines(3))",
                remedy: "Check that the Docker engine runs (`docker info`).")
        }
        return try decode(result.stdout)
    }

    /// `docker inspect`'s JSON array.
    /// - Throws: `UserError` quoting the start of what could not be read.
    static func decode<Item: Decodable>(_ text: String) throws(UserError) -> [Item] {
        do { return try JSONDecoder().decode([Item].self, from: Data(text.utf8)) } catch {
            throw UserError(
                "`docker inspect` printed something sbs cannot read: \(String(text.trimmed.prefix(120)).debugSafe)",
                remedy: "Check `docker version`.")
        }
    }
}
