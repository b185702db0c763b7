import Deploy
import FoundationEssentials
import Glibc
import Host
import Processes
import SBSCore
import StepGraph
import Wizard

/// `install-timers`: the systemd units that keep the server healthy after the install (`sbs renew` twice a day,
/// `sbs verify --json` every hour, `sbs backup` every night when backups are on, `sbs metrics` every minute with
/// monitoring; see `SystemdUnits`). They are
/// written atomically to `ROOT/etc/systemd/system` and recorded as products (a deleted or edited unit is drift: the
/// next run writes it again); `sbs-backup.*` is removed when backups were turned off. Where systemd runs, the
/// timers are enabled and started; where it does not (a container, a chroot), the step succeeds and says how to
/// enable them later.
struct InstallTimers: StepAction {
    static let name = "install-timers"
    let tools: InstallTools

    struct Input: Codable, Hashable, Sendable {
        var units: SystemdUnits
        /// `ROOT/etc/systemd/system`.
        var unitDirectory: String
        /// Where host facts are read (`/run/systemd/system` says whether systemd runs).
        var sysroot: String
        /// Whether `systemctl` may act on what was written. Not under another root on the real host: there the
        /// units are not where the host's systemd reads them, and enabling them would make this host run a demo's
        /// or a test's install. A fixture sysroot's `systemctl` stands in for the host's, so it may.
        var systemctlAllowed: Bool
    }

    struct Output: Codable, Hashable, Sendable {
        var unitDirectory: String
        var units: [String]
        var timers: [String]
        /// True when systemd runs and the timers were enabled and started.
        var enabled: Bool
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        let profile = try needs.output(of: ChooseProfile.self)
        let units = try SystemdUnits(
            executable: context.executable, root: context.layout.root,
            project: context.project, backups: context.answers.backups != .off,
            monitoring: profile.monitoringEnabled)
        return Input(
            units: units, unitDirectory: context.layout.resolve(SystemdUnits.directory), sysroot: context.sysroot,
            systemctlAllowed: context.layout.root == "/" || context.sysroot != "/")
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let directory = input.unitDirectory
        let units = input.units.units
        let systemd = Sysroot(input.sysroot).exists("/run/systemd/system")
        let manage = systemd && input.systemctlAllowed

        // Units of ours that this configuration no longer has (backups turned off): stopped, then removed.
        let wanted = Set(units.map(\.name))
        let stale = SystemdUnits.allNames.filter { !wanted.contains($0) && AtomicFile.exists(directory + "/" + $0) }
        if manage {
            let staleTimers = stale.filter { $0.hasSuffix(".timer") }
            if !staleTimers.isEmpty { try await systemctl(["disable", "--now"] + staleTimers, log: log) }
        }
        for name in stale {
            try remove(directory + "/" + name)
            try remove(directory + "/timers.target.wants/" + name)
            log.progress("removed \(directory)/\(name) (no longer wanted)")
        }

        for unit in units { try AtomicFile.write(unit.text, to: directory + "/" + unit.name, mode: 0o644) }
        let timers = input.units.timers
        log.progress("\(units.count) units written to \(directory) (timers: \(timers.joined(separator: ", ")))")

        if manage {
            try await systemctl(["daemon-reload"], log: log)
            try await systemctl(["enable", "--now"] + timers, log: log)
            log.progress("timers enabled and started (`systemctl list-timers 'sbs-*'` shows when they run next)")
        } else if !systemd {
            log.progress(
                "systemd does not run on this host: the units were written but not enabled. Where systemd runs, enable them with `systemctl daemon-reload && systemctl enable --now \(timers.joined(separator: " "))`."
            )
        } else {
            log.progress(
                "the units are under \(directory), not where this host's systemd reads them, so they were not enabled. To run them on this host: `cp \(directory)/sbs-* /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now \(timers.joined(separator: " "))`."
            )
        }
        // The alerts on renewals and backups count from now until the timers' first runs (RenewalNotChecked and
        // BackupTooOld: a timer that never runs is an alert two days on, as one that stopped is).
        do {
            try TextfileMetrics.write(
                [
                    .init(
                        "sbs_timers_installed_timestamp_seconds",
                        help: "When install-timers last wrote the timers (renewal and backup alerts count from it).",
                        value: Date().timeIntervalSince1970.rounded(.down))
                ], job: "timers", in: Layout(root: input.units.root))
        } catch { log.progress("warning: the timers' metrics were not written: \(error.message)") }
        return StepResult(
            Output(unitDirectory: directory, units: units.map(\.name), timers: timers, enabled: manage),
            products: units.map { ProductFile(directory + "/" + $0.name) })
    }

    func systemctl(_ arguments: [String], log: StepLog) async throws {
        let argv = ["systemctl"] + arguments
        log.info(argv.joined(separator: " "))
        let result = try await tools.commands.run(argv, timeout: .seconds(120))
        guard result.status == 0 else {
            throw UserError(
                "`\(argv.joined(separator: " "))` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \((result.stderr + result.stdout).lastLines(3))",
                remedy: "Check `systemctl status` and `journalctl -xe`, and fix what they report.")
        }
    }

    /// Removes a file or link; a missing one is fine.
    func remove(_ path: String) throws(UserError) {
        if unlink(path) != 0 && errno != ENOENT { throw AtomicFile.systemError("unlink", path) }
    }
}

extension InstallInputs {
    /// The running sbs binary (`/proc/self/exe`), read once: the services the timers start run it.
    public static let runningExecutable: String = {
        // A binary replaced while it runs (install.sh upgrades in place) reads as "PATH (deleted)": the path is
        // where the new one is.
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { link in
            link.hasSuffix(" (deleted)") ? String(link.dropLast(" (deleted)".count)) : link
        }
            ?? CommandLine.arguments.first.map {
                $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0
            }
            ?? "/usr/local/bin/sbs"
    }()
}
