import SBSCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Who holds a lock file.
public struct LockHolder: Sendable, Equatable {
    /// Nil when the lock is an open-file-description lock (which carries no pid) or the pid is not visible.
    public var pid: Int32?
    public var process: String?

    public init(pid: Int32?, process: String?) {
        self.pid = pid
        self.process = process
    }

    public var description: String {
        switch (process, pid) {
        case let (process?, pid?): return "\(process) (pid \(pid))"
        case let (nil, pid?): return "pid \(pid)"
        default: return "another process"
        }
    }
}

/// Tells whether a lock file is locked by someone else.
public protocol PackageManagerLockProbe: Sendable {
    /// The holder of a write lock on the file at `path`, or nil when the file is missing or not locked.
    /// - Throws: never; a file that cannot be opened reads as not locked (dpkg then reports its own error).
    func holder(of path: String) -> LockHolder?
}

/// Asks the kernel with `fcntl(F_OFD_GETLK)`: it sees dpkg's and apt's `fcntl` locks (with their pid) and
/// open-file-description locks, even those held by this process through another descriptor.
public struct FcntlLockProbe: PackageManagerLockProbe {
    let sysroot: Sysroot

    public init(sysroot: Sysroot = Sysroot()) {
        self.sysroot = sysroot
    }

    public func holder(of path: String) -> LockHolder? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var query = flock()
        query.l_type = Int16(F_WRLCK)
        query.l_whence = Int16(SEEK_SET)
        query.l_start = 0
        query.l_len = 0
        query.l_pid = 0
        let F_OFD_GETLK: Int32 = 36
        guard fcntl(fd, F_OFD_GETLK, &query) == 0, query.l_type != Int16(F_UNLCK) else { return nil }
        let pid: Int32? = query.l_pid > 0 ? query.l_pid : nil
        return LockHolder(pid: pid, process: pid.flatMap { sysroot.readLine("/proc/\($0)/comm") })
    }
}

extension PreflightChecks {
    /// The files apt and dpkg lock while they work.
    public static let packageManagerLocks = [
        "/var/lib/dpkg/lock-frontend",
        "/var/lib/dpkg/lock",
        "/var/lib/apt/lists/lock",
        "/var/cache/apt/archives/lock",
    ]

    /// Waits until no apt/dpkg lock is held (a fresh server runs unattended-upgrades on first boot), telling the
    /// user who holds it; gives up after `timeout`.
    /// - Parameters:
    ///   - progress: called with a message when the wait starts and whenever the holder changes.
    ///   - clock: sleeps between polls (tests pass a clock that does not really sleep).
    /// - Returns: pass when free (saying how long it waited), fail after the timeout, naming the holder, or at once
    ///   when the task is cancelled (Ctrl-C).
    public func waitForPackageManagerLock(
        probe: any PackageManagerLockProbe,
        timeout: Duration = .seconds(900),
        pollInterval: Duration = .seconds(2),
        clock: any Clock<Duration> = ContinuousClock(),
        progress: @Sendable (String) -> Void
    ) async -> CheckResult {
        var waited = Duration.zero
        var lastHolder: String?
        while true {
            var held: (String, LockHolder)?
            for path in Self.packageManagerLocks {
                if let holder = probe.holder(of: sysroot.resolve(path)) {
                    held = (path, holder)
                    break
                }
            }
            guard let (path, holder) = held else {
                let detail =
                    waited == .zero
                    ? "No package manager is running."
                    : "The package manager finished after \(waited.components.seconds) s of waiting."
                return CheckResult(id: "package-lock", status: .pass, detail: detail)
            }
            let description = "\(holder.description) holds \(path)"
            if waited >= timeout {
                return CheckResult(
                    id: "package-lock", status: .fail,
                    detail: "The package manager is still busy after \(timeout.components.seconds) s: \(description).",
                    remedy:
                        "Wait for it to finish (`journalctl -fu unattended-upgrades` shows progress). Do not delete the lock file."
                )
            }
            if description != lastHolder {
                progress(
                    "Waiting for the package manager: \(description). A fresh server installs updates on its first boot; sbs waits up to \(timeout.components.seconds / 60) min."
                )
                lastHolder = description
            }
            do { try await clock.sleep(for: pollInterval) } catch {
                // Ctrl-C: stop waiting now, rather than spin through the remaining polls.
                return CheckResult(
                    id: "package-lock", status: .fail,
                    detail: "Interrupted while waiting for the package manager (\(description)).",
                    remedy: "Run again when you want to go on.")
            }
            waited += pollInterval
        }
    }
}

/// The wait for apt's and dpkg's locks before a command that takes them: preflight waits once, but
/// unattended-upgrades can take the locks again before a later step runs apt-get, which then fails at once with
/// "Could not get lock". Each such command waits as preflight does (same locks, same messages, same limit).
public struct PackageManagerWait: Sendable {
    /// How long another package manager may hold the locks before the command is given up.
    public var timeout: Duration
    public var pollInterval: Duration
    /// Paces the polls (tests pass a clock that does not really sleep).
    public var clock: any Clock<Duration>

    public init(
        timeout: Duration = .seconds(900), pollInterval: Duration = .seconds(2),
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.timeout = timeout
        self.pollInterval = pollInterval
        self.clock = clock
    }

    /// Whether `argv` runs apt, apt-get or dpkg (directly or through `env`), which lock the package database.
    /// `dpkg-query` only reads it and takes no lock.
    public static func takesPackageLocks(_ argv: [String]) -> Bool {
        // `env NAME=value … apt-get …`: the program is the first word after env and its assignments.
        guard let program = argv.drop(while: { $0 == "env" || $0.contains("=") }).first else { return false }
        return ["apt", "apt-get", "dpkg"].contains(program.split(separator: "/").last.map(String.init) ?? program)
    }

    /// Returns at once for a command that takes no package lock; otherwise waits until no apt/dpkg lock under
    /// `sysroot` is held.
    /// - Throws: `UserError` naming the lock and its holder after `timeout`, or when interrupted while waiting.
    public func before(_ argv: [String], sysroot: Sysroot, progress: @Sendable (String) -> Void)
        async throws(UserError)
    {
        guard Self.takesPackageLocks(argv) else { return }
        let result = await PreflightChecks(sysroot: sysroot).waitForPackageManagerLock(
            probe: FcntlLockProbe(sysroot: sysroot), timeout: timeout, pollInterval: pollInterval, clock: clock,
            progress: progress)
        if result.status == .fail { throw result.userError }
    }
}
