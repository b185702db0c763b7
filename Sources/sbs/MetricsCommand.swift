import ArgumentParser
import Deploy
import Installer
import SBSCore

struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Write the stack's container states (running, healthy, restarts) for Prometheus.",
        discussion: """
            Reads every container of the stack with `docker inspect` and writes \
            /var/lib/sbs/metrics/sbs-containers.prom, which node-exporter's textfile collector serves to \
            Prometheus (the alerts ServiceNotRunning, ServiceUnhealthy and ContainerRestarting read it). \
            sbs-metrics.timer runs it every minute when monitoring is on.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print nothing when it succeeds (the timer's way).")
    var quiet = false

    func run() async throws {
        let session = global.session
        let (containers, missing) = try await session.writeContainerMetrics()
        guard !quiet else { return }
        let running = containers.filter(\.running).count
        let healthy = containers.filter(\.isHealthy).count
        let restarts = containers.reduce(0) { $0 + $1.restartCount }
        session.output.out(
            "\(containers.count) containers: \(running) running, \(healthy) healthy, \(restarts) restarts in all\(missing.isEmpty ? "" : "; no container: " + missing.joined(separator: ", ")) → \(TextfileMetrics.directory(in: session.layout))/sbs-containers.prom"
        )
    }
}
