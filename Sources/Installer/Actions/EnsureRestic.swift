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
        if let version = await version() {
            log.progress(version)
            return StepResult(Output(version: version))
        }
        let os = HostDetector(sysroot: Sysroot(input.sysroot), runner: tools.commands).detectOS()
        let plan = try ResticInstallPlan.steps(for: os)
        log.progress("restic is not installed: installing it on \(os.prettyName)")
        for action in plan {
            log.progress(action.description)
            guard case .run(let argv, let timeout) = action else { continue }
            let result = try await tools.commands.run(argv, timeout: timeout)
            guard result.status == 0 else {
                throw UserError(
                    "`\(action)` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \((result.stderr + result.stdout).lastLines(3))",
                    remedy:
                        "Fix the cause (network, package sources, a held package lock), then run `sbs resume`; or install restic by hand."
                )
            }
        }
        guard let version = await version() else {
            throw UserError(
                "restic was installed but `restic version` does not answer.",
                remedy: "Check `restic version`, fix what it reports, then run `sbs resume`.")
        }
        log.progress(version)
        return StepResult(Output(version: version))
    }

    func version() async -> String? {
        guard let result = try? await tools.commands.run(["restic", "version"], timeout: .seconds(20)),
            result.status == 0
        else { return nil }
        return result.stdout.split(separator: "\n").first.map { String($0).trimmed }
    }
}
