import Foundation
import Host
import SBSCore
import StepGraph

/// `preflight`: the host can take the install — root, a supported OS, free ports, no package manager at work,
/// enough disk, a sane clock; an active firewall that does not list the web ports is a warning. Every failure is listed at once with what to do.
struct PreflightAction: InstallAction {
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        ["ports.http": context.answers.httpPort.description, "ports.https": context.answers.httpsPort.description,
         "paths.deploy_dir": context.answers.deployDir, "sysroot": context.sysroot]
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        let sysroot = Sysroot(context.sysroot)
        let preflight = Preflight(sysroot: sysroot)
        let detector = HostDetector(sysroot: sysroot, runner: context.commands)
        let deployDir = context.layout.resolve(context.answers.deployDir)
        let table = try ProfileTable(yaml: context.assets.text("assets/profiles.yaml"))

        var results: [CheckResult] = [
            preflight.checkRoot(),
            preflight.checkOperatingSystem(detector.detectOS(), architecture: detector.detectArchitecture()),
            // A re-run finds the stack's own nginx (published through docker-proxy) on these ports.
            preflight.checkPort(context.answers.httpPort, purpose: "HTTP (ACME challenges and redirects)", acceptingOwners: ["docker-proxy"]),
            preflight.checkPort(context.answers.httpsPort, purpose: "HTTPS", acceptingOwners: ["docker-proxy"]),
            preflight.checkDiskSpace(DiskSpace.free(under: deployDir),
                                     requiredGiB: table.rule(.minimum)?.diskRequiredGiB ?? 20),
            preflight.checkClock(now: Date()),
        ]
        results.append(await FirewallCheck(runner: context.commands).check(httpPort: context.answers.httpPort,
                                                                          httpsPort: context.answers.httpsPort))
        results.append(await preflight.waitForPackageManagerLock(probe: FcntlLockProbe(sysroot: sysroot)) { message in
            log.progress(message)
        })
        for result in results {
            log.info("\(result.id): \(result.status.rawValue): \(result.detail)")
            if result.status == .warn { log.progress("warning: \(result.detail)\(result.remedy.map { " (\($0))" } ?? "")") }
        }
        let failures = results.filter { $0.status == .fail }
        if failures.count == 1, let failure = failures.first { throw failure.userError }
        if !failures.isEmpty {
            throw UserError("The host is not ready:\n" + failures.map { "  - \($0.detail)\($0.remedy.map { "\n    → \($0)" } ?? "")" }.joined(separator: "\n"),
                            remedy: "Fix these, then run `sbs resume`.")
        }
        return [:]
    }
}
