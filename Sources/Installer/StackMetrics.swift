import Deploy
import FoundationEssentials
import SBSCore

extension InstallSession {
    /// `sbs metrics`: the stack's containers (running, healthy, restarts, last start) written as
    /// `sbs-containers.prom` for node_exporter's textfile collector (see `ContainerMetrics`).
    /// - Returns: the containers read, and the services the stack runs that have none.
    /// - Throws: `UserError` when nothing is installed, Docker cannot be asked, or the file cannot be written.
    public func writeContainerMetrics(now: Date = Date()) async throws(UserError) -> (
        containers: [ContainerMetrics.Container], missing: [String]
    ) {
        guard let project = installedStack() else {
            throw UserError("Nothing was installed under \(layout.root).", remedy: "Run `sbs install` first.")
        }
        let (containers, services) = try await ContainerMetrics.read(project, runner: commands)
        try TextfileMetrics.write(
            ContainerMetrics.samples(containers, services: services, now: now), job: "containers", in: layout)
        return (containers, services.filter { service in !containers.contains { $0.service == service } })
    }
}
