import Host
import SBSCore
import StepGraph

/// `detect-hardware`: memory (cgroup-limited), CPUs, GPU, OS and disk, kept in `host.json`; the stable facts are
/// the step's outputs, so `choose-profile` runs again only when they change.
struct DetectHardware: InstallAction {
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        ["sysroot": context.sysroot, "paths.deploy_dir": context.answers.deployDir]
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        let detector = HostDetector(sysroot: Sysroot(context.sysroot), runner: context.commands)
        log.progress("reading memory, CPUs, GPU (nvidia-smi answers within 10 s or counts as no GPU) and disk")
        let host = try await detector.detect(deployDirectory: context.layout.resolve(context.answers.deployDir))
        try JSONFile.write(host, to: context.layout.hostFactsFile)
        let gpu = host.gpu.usable ? "\(host.gpu.name ?? host.gpu.vendor.rawValue) (\(host.gpu.memoryMiB.map { "\($0) MiB" } ?? "memory unknown"))"
            : "none usable (\(host.gpu.reason))"
        log.progress("\(host.memory.effectiveMiB / 1024) GiB memory, \(host.cpu.effective) CPUs, GPU: \(gpu)")
        return host.stableFacts
    }
}
