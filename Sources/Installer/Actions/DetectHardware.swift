import Host
import SBSCore
import StepGraph

/// `detect-hardware`: memory (cgroup-limited), CPUs, GPU, OS. It reads the host, so it runs on every run; its
/// output keeps only what stays put on one machine (no free disk, no tool versions that later steps change), so
/// `choose-profile` runs again only when the hardware really changed.
struct DetectHardware: StepAction {
    static let name = "detect-hardware"
    static let observes = true
    let tools: InstallTools

    struct Input: Codable, Hashable, Sendable {
        var sysroot: String
        var deployDir: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(sysroot: context.sysroot, deployDir: context.deployDir)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<HostFacts> {
        let detector = HostDetector(sysroot: Sysroot(input.sysroot), runner: tools.commands)
        log.progress("reading memory, CPUs, GPU (nvidia-smi answers within 10 s or counts as no GPU) and disk")
        var host = try await detector.detect(deployDirectory: input.deployDir)
        let gpu =
            host.gpu.usable
            ? "\(host.gpu.name ?? host.gpu.vendor.rawValue) (\(host.gpu.memoryMiB.map { "\($0) MiB" } ?? "memory unknown"))"
            : "none usable (\(host.gpu.reason))"
        log.progress("\(host.memory.effectiveMiB / 1024) GiB memory, \(host.cpu.effective) CPUs, GPU: \(gpu)")
        host.disk = nil
        host.docker = DockerFacts(clientVersion: nil, engineVersion: nil, composeVersion: nil, notes: [])
        return StepResult(host)
    }
}
