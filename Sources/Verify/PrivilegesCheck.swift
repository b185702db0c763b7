import Deploy
import Host
import SBSCore

extension StackChecks {
    /// Every container of the stack runs with no more than its row of `ServicePrivileges` gives it: not privileged,
    /// Docker's default capabilities dropped and only the declared ones added, `no-new-privileges`, a read-only root
    /// where declared, a process limit no higher than declared, none of the host's namespaces, not the engine's
    /// socket. A hand edit of docker-compose.yml that widens a service shows here once the container is recreated.
    func privileges(_ engine: Result<[ContainerPrivileges], UserError>) -> VerifyCheck {
        let id = "privileges"
        let all: [ContainerPrivileges]
        switch engine {
        case .failure(let error):
            return .fail(
                id, "the engine's containers could not be inspected: \(error.message)",
                remedy: error.remedy ?? "Check that Docker runs (`docker info`).")
        case .success(let found): all = found
        }
        let stack = all.filter { $0.project == target.project.name }
        if stack.isEmpty {
            return .fail(
                id, "no container of the stack runs, so none could be inspected",
                remedy: "Start the stack: \(command(["up", "-d"])).")
        }
        var problems: [String] = []
        for container in stack {
            guard let service = container.service.flatMap(StackService.init(rawValue:)) else {
                problems.append(
                    "\(container.name): service \(container.service ?? "(none)") is not one sbs declares")
                continue
            }
            let found = Self.excess(container, declared: service.privileges)
            if !found.isEmpty { problems.append("\(container.name): \(found.joined(separator: "; "))") }
        }
        if problems.isEmpty {
            let readOnly = stack.filter(\.readOnly).count
            return .pass(
                id,
                "\(stack.count) containers, none with more than sbs declares (capabilities dropped but their own, no-new-privileges, a process limit; \(readOnly) with a read-only root)"
            )
        }
        let swarmRemedy =
            target.project.target == .swarm && problems.contains(where: { $0.contains("no-new-privileges") })
            ? " A swarm service cannot ask for no-new-privileges itself: set `\"no-new-privileges\": true` in /etc/docker/daemon.json on every node and restart docker there (`systemctl restart docker`); the tasks come back with it."
            : ""
        return .fail(
            id, "running with more privileges than sbs declares: \(problems.joined(separator: ", "))",
            remedy:
                "Undo the hand edits of \(target.project.composeFile) (`sbs install --from write-configs` writes it again from sbs's table), then \(command(["up", "-d"])) recreates the containers.\(swarmRemedy)"
        )
    }

    /// What `container` has beyond `declared`, one phrase each; empty when nothing.
    static func excess(_ container: ContainerPrivileges, declared: ServicePrivileges) -> [String] {
        var found: [String] = []
        if container.privileged { found.append("privileged") }
        let extra = Set(container.capAdd).subtracting(declared.capabilityNames).sorted()
        if !extra.isEmpty { found.append("capabilities beyond its own: \(extra.joined(separator: ", "))") }
        if !container.capDrop.contains("ALL") { found.append("Docker's default capabilities (no cap_drop: ALL)") }
        if !container.noNewPrivileges { found.append("may gain privileges (no no-new-privileges)") }
        if declared.readOnly && !container.readOnly { found.append("a writable root filesystem") }
        if let limit = container.pidsLimit {
            if limit > declared.pidsLimit {
                found.append("a process limit of \(limit) (sbs sets \(declared.pidsLimit))")
            }
        } else {
            found.append("no process limit")
        }
        for namespace in container.hostNamespaces { found.append("the host's \(namespace) namespace") }
        if container.mountsEngineSocket { found.append("the Docker engine's socket mounted") }
        return found
    }
}
