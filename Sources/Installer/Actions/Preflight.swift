import FoundationEssentials
import Host
import SBSCore
import StepGraph
import Wizard

/// `preflight`: the host can take the install — root, a supported OS, free ports, no package manager at work,
/// enough disk, a sane clock; an active firewall that does not list the web ports is a warning (with `firewall:
/// on`, a note: configure-firewall allows them). Every failure is
/// listed at once with what to do.
struct Preflight: StepAction {
    static let name = "preflight"
    let tools: InstallTools

    struct Input: Codable, Hashable, Sendable {
        var httpPort: SBSCore.Port
        var httpsPort: SBSCore.Port
        var deployDir: String
        var sysroot: String
        var diskRequiredGiB: Int
        /// configure-firewall will allow the web ports in ufw or firewalld (`firewall: on`).
        var firewallManaged: Bool
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        let table = try ProfileTable(yaml: context.assets.text("assets/profiles.yaml"))
        return Input(
            httpPort: context.answers.httpPort, httpsPort: context.answers.httpsPort, deployDir: context.deployDir,
            sysroot: context.sysroot, diskRequiredGiB: table.rule(.minimum)?.diskRequiredGiB ?? 20,
            firewallManaged: context.answers.firewall == .on)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Nothing> {
        let sysroot = Sysroot(input.sysroot)
        let preflight = PreflightChecks(sysroot: sysroot)
        let detector = HostDetector(sysroot: sysroot, runner: tools.commands)
        var results: [CheckResult] = [
            preflight.checkRoot(),
            preflight.checkOperatingSystem(detector.detectOS(), architecture: detector.detectArchitecture()),
            // A re-run finds the stack's own nginx (published through docker-proxy) on these ports.
            preflight.checkPort(
                input.httpPort, purpose: "HTTP (ACME challenges and redirects)", acceptingOwners: ["docker-proxy"]),
            preflight.checkPort(input.httpsPort, purpose: "HTTPS", acceptingOwners: ["docker-proxy"]),
            preflight.checkDiskSpace(DiskSpace.free(under: input.deployDir), requiredGiB: input.diskRequiredGiB),
            preflight.checkClock(now: Date()),
        ]
        results.append(
            await FirewallCheck(runner: tools.commands).check(
                httpPort: input.httpPort, httpsPort: input.httpsPort, managed: input.firewallManaged))
        results.append(
            await preflight.waitForPackageManagerLock(probe: FcntlLockProbe(sysroot: sysroot)) { message in
                log.progress(message)
            })
        for result in results {
            log.info("\(result.id): \(result.status.rawValue): \(result.detail)")
            if result.status == .warn {
                log.progress("warning: \(result.detail)\(result.remedy.map { " (\($0))" } ?? "")")
            }
        }
        let failures = results.filter { $0.status == .fail }
        if failures.count == 1, let failure = failures.first { throw failure.userError }
        if !failures.isEmpty {
            throw UserError(
                "The host is not ready:\n"
                    + failures.map { "  - \($0.detail)\($0.remedy.map { "\n    → \($0)" } ?? "")" }.joined(
                        separator: "\n"),
                remedy: "Fix these.")
        }
        return StepResult()
    }
}
