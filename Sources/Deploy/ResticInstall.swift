import Host
import Processes
import SBSCore

/// How restic is installed on a distribution: its own package (Debian, Ubuntu, Fedora; EPEL on the RHEL family).
public enum ResticInstallPlan {
    static let timeout: Duration = .seconds(1200)

    /// - Throws: `UserError` naming what to install by hand on a system sbs does not know how to install on.
    public static func steps(for os: OSFacts) throws(UserError) -> [PlannedAction] {
        let family = Set([os.id] + os.idLike)
        if family.contains("debian") || family.contains("ubuntu") {
            let apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
            return [
                .run(apt + ["update", "-q"], timeout: timeout),
                .run(apt + ["install", "-y", "-q", "restic"], timeout: timeout),
            ]
        }
        if os.id == "fedora" { return [.run(["dnf", "-y", "install", "restic"], timeout: timeout)] }
        if !family.isDisjoint(with: ["rhel", "centos", "rocky", "almalinux"]) {
            // restic is in EPEL on the RHEL family.
            return [
                .run(["dnf", "-y", "install", "epel-release"], timeout: timeout),
                .run(["dnf", "-y", "install", "restic"], timeout: timeout),
            ]
        }
        throw UserError(
            "sbs cannot install restic on \(os.prettyName): it knows Debian, Ubuntu and the RHEL family only.",
            remedy:
                "Install restic by hand (https://restic.readthedocs.io/), and check `restic version`."
        )
    }
}

extension ResticInstallPlan {
    /// `restic version`'s first line, after installing restic from the distribution's packages when it is missing.
    /// Each apt-get waits first for another package manager (unattended-upgrades) to let go of apt's locks.
    /// - Parameters:
    ///   - remedy: what to do after fixing a failed installation (the command again); nil within the install's
    ///     steps, whose run says what to run next.
    ///   - lockWait: how long to wait for apt's locks.
    /// - Throws: `UserError` naming the command that failed, or the lock still held after `lockWait.timeout`.
    public static func ensure(
        commands: any CommandRunner, sysroot: String, remedy: String?,
        lockWait: PackageManagerWait = PackageManagerWait(), progress: @Sendable (String) -> Void
    ) async throws(UserError) -> String {
        if let version = await version(commands) { return version }
        let next = remedy.map { ", then \($0)" } ?? ""
        let os = HostDetector(sysroot: Sysroot(sysroot), runner: commands).detectOS()
        let plan = try steps(for: os)
        progress("restic is not installed: installing it on \(os.prettyName)")
        for action in plan {
            progress(action.description)
            guard case .run(let argv, let timeout) = action else { continue }
            try await lockWait.before(argv, sysroot: Sysroot(sysroot), progress: progress)
            let result = try await commands.run(argv, timeout: timeout)
            guard result.status == 0 else {
                throw UserError(
                    "`\(action)` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \((result.stderr + result.stdout).lastLines(3))",
                    remedy:
                        "Fix the cause (network, package sources, a held package lock)\(next); or install restic by hand."
                )
            }
        }
        guard let version = await version(commands) else {
            throw UserError(
                "restic was installed but `restic version` does not answer.",
                remedy: "Check `restic version` and fix what it reports\(next).")
        }
        return version
    }

    static func version(_ commands: any CommandRunner) async -> String? {
        guard let result = try? await commands.run(["restic", "version"], timeout: .seconds(20)), result.status == 0
        else { return nil }
        return result.stdout.split(separator: "\n").first.map { String($0).trimmed }
    }
}
