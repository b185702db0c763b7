import Deploy
import FoundationEssentials
import SBSCore

extension InstallSession {
    /// `sbs metrics`: the stack's containers (running, healthy, restarts, last start) written as
    /// `sbs-containers.prom` for node_exporter's textfile collector (see `ContainerMetrics`).
    /// - Returns: the containers read.
    /// - Throws: `UserError` when nothing is installed, Docker cannot be asked, or the file cannot be written.
    public func writeContainerMetrics(now: Date = Date()) async throws(UserError) -> [ContainerMetrics.Container] {
        guard let project = installedStack() else {
            throw UserError("Nothing was installed under \(layout.root).", remedy: "Run `sbs install` first.")
        }
        let containers = try await ContainerMetrics.read(project, runner: commands)
        try TextfileMetrics.write(ContainerMetrics.samples(containers, now: now), job: "containers", in: layout)
        return containers
    }
}
