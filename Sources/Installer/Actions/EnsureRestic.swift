import Deploy
import FoundationEssentials
import Host
import Processes
import SBSCore
import StepGraph

/// `ensure-restic`: restic, which `sbs backup` (and the nightly backup timer) stores the backups with, is
/// installed; when it is missing, from the distribution's packages (see `ResticInstallPlan`). It reads the host, so
/// it runs on every run; skipped when backups are off.
struct EnsureRestic: StepAction {
    static let name = "ensure-restic"
    static let observes = true
    let tools: InstallTools
    /// How long apt-get waits for another package manager to let go of apt's locks.
    var lockWait = PackageManagerWait()

    struct Input: Codable, Hashable, Sendable {
        var sysroot: String
    }

    struct Output: Codable, Hashable, Sendable {
        /// `restic version`'s first line, such as `restic 0.14.0 compiled with go1.19.8 on linux/amd64`.
        var version: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(sysroot: context.sysroot)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let version = try await ResticInstallPlan.ensure(
            commands: tools.commands, sysroot: input.sysroot, remedy: nil, lockWait: lockWait,
            progress: { log.progress($0) }
        )
        log.progress(version)
        return StepResult(Output(version: version))
    }
}
