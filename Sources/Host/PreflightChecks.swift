import SBSCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import FoundationEssentials
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The checks of the `preflight` step, each a pure function of what it is given (or of the sysroot), each
/// failure with a remedy. The installer runs them and decides what a failure stops.
public struct PreflightChecks: Sendable {
    public let sysroot: Sysroot

    public init(sysroot: Sysroot = Sysroot()) {
        self.sysroot = sysroot
    }

    /// Operating systems sbs is tested on: ID → VERSION_IDs.
    public static let supportedSystems: [String: [String]] = [
        "debian": ["11", "12", "13"],
        "ubuntu": ["22.04", "24.04"],
    ]
    public static let supportedArchitectures: Set<String> = ["x86_64", "aarch64"]

    /// sbs writes under /etc, starts Docker and binds ports 80/443: it needs root.
    public func checkRoot(effectiveUserID: UInt32 = geteuid()) -> CheckResult {
        effectiveUserID == 0
            ? CheckResult(id: "root", status: .pass, detail: "Running as root.")
            : CheckResult(
                id: "root", status: .fail, detail: "sbs is running as user id \(effectiveUserID), not root.",
                remedy: "Run it with sudo: `sudo sbs install`.")
    }

    public func checkOperatingSystem(_ os: OSFacts, architecture: String) -> CheckResult {
        guard Self.supportedArchitectures.contains(architecture) else {
            return CheckResult(
                id: "os", status: .fail, detail: "The architecture \(architecture) is not supported.",
                remedy: "Use an x86_64 or aarch64 (arm64) server.")
        }
        if let versions = Self.supportedSystems[os.id] {
            if versions.contains(os.versionID) {
                return CheckResult(id: "os", status: .pass, detail: "\(os.prettyName) on \(architecture).")
            }
            return CheckResult(
                id: "os", status: .fail,
                detail: "\(os.prettyName) (\(os.id) \(os.versionID)) is not a supported release.",
                remedy: "Use \(Self.supportedList).")
        }
        if os.idLike.contains("debian") || os.idLike.contains("ubuntu") {
            return CheckResult(
                id: "os", status: .warn,
                detail: "\(os.prettyName) is derived from \(os.idLike.joined(separator: "/")) but not tested with sbs.",
                remedy:
                    "Expect the distribution's docker.io package to be used; for a supported setup use \(Self.supportedList)."
            )
        }
        return CheckResult(
            id: "os", status: .fail, detail: "\(os.prettyName) (\(os.id)) is not supported.",
            remedy: "Use \(Self.supportedList).")
    }

    static var supportedList: String {
        supportedSystems.keys.sorted().map { id in
            "\(id == "debian" ? "Debian" : "Ubuntu") \(supportedSystems[id, default: []].joined(separator: "/"))"
        }.joined(separator: " or ")
    }

    /// The port is free, or held by a process whose name is in `acceptingOwners` (the installer passes
    /// `docker-proxy` when its own stack is already up).
    /// - Parameter purpose: how the port is known to the user (`http`, `https`).
    public func checkPort(_ port: Port, purpose: String, acceptingOwners: Set<String> = []) -> CheckResult {
        let id = "port-\(purpose)"
        let listeners = PortListenerTable(sysroot: sysroot).listeners(on: port.value)
        if listeners.isEmpty {
            return CheckResult(id: id, status: .pass, detail: "Port \(port) (\(purpose)) is free.")
        }
        let foreign = listeners.filter { listener in !(listener.process.map(acceptingOwners.contains) ?? false) }
        if foreign.isEmpty {
            return CheckResult(
                id: id, status: .pass,
                detail: "Port \(port) (\(purpose)) is held by this install's stack (\(listeners[0].holderDescription))."
            )
        }
        let holders = foreign.map { "\($0.holderDescription) on \($0.address)" }
        let names = Set(foreign.compactMap(\.process))
        var remedy = "Stop it"
        if names.contains("nginx") || names.contains("apache2") || names.contains("httpd") || names.contains("caddy") {
            remedy =
                "A web server already runs here; stop and disable it (for example `systemctl disable --now \(names.sorted().first ?? "nginx")`)"
        }
        remedy +=
            ", or choose other ports in the answers (ports.\(purpose)); note that Let's Encrypt's HTTP-01 check always comes to port 80."
        return CheckResult(
            id: id, status: .fail,
            detail: "Port \(port) (\(purpose)) is already in use by \(holders.joined(separator: ", ")).",
            remedy: remedy)
    }

    /// Enough free disk for images, models and data (the profile says how much).
    public func checkDiskSpace(_ disk: DiskFacts?, requiredGiB: Int) -> CheckResult {
        guard let disk else {
            return CheckResult(
                id: "disk", status: .warn, detail: "Free disk space could not be measured.",
                remedy: "Make sure at least \(requiredGiB) GiB are free for the stack.")
        }
        let freeGiB = disk.freeMiB / 1024
        if disk.freeMiB >= requiredGiB * 1024 {
            return CheckResult(
                id: "disk", status: .pass, detail: "\(freeGiB) GiB free under \(disk.path) (\(requiredGiB) GiB needed)."
            )
        }
        return CheckResult(
            id: "disk", status: .fail,
            detail:
                "Only \(freeGiB) GiB free under \(disk.path); the stack needs \(requiredGiB) GiB for images, models and data.",
            remedy: "Free space (`docker system prune`, old logs) or grow the disk.")
    }

    /// The earliest plausible time: certificates and JWTs issued by a clock before this are surely wrong.
    public static let clockFloor = Date(timeIntervalSince1970: 1_735_689_600)  // 2025-01-01T00:00:00Z

    /// The clock is plausible, and when a `reference` (such as an HTTP `Date` header from the ACME server) is known,
    /// within `maxSkew` of it. A wrong clock makes certificates look not-yet-valid or expired.
    public func checkClock(now: Date, reference: Date? = nil, maxSkew: Duration = .seconds(300)) -> CheckResult {
        let remedy = "Set the clock and keep it in sync: `timedatectl set-ntp true` (or install chrony)."
        if now < Self.clockFloor {
            return CheckResult(
                id: "clock", status: .fail, detail: "The system clock reads \(Self.format(now)), which is in the past.",
                remedy: remedy)
        }
        if now > Date(timeIntervalSince1970: 4_102_444_800) {  // 2100-01-01
            return CheckResult(
                id: "clock", status: .fail, detail: "The system clock reads \(Self.format(now)), far in the future.",
                remedy: remedy)
        }
        if let reference {
            let skew = abs(now.timeIntervalSince(reference))
            if skew > Double(maxSkew.components.seconds) {
                return CheckResult(
                    id: "clock", status: .fail,
                    detail:
                        "The system clock is \(Int(skew)) s off (\(Self.format(now)) here, \(Self.format(reference)) on the reference server).",
                    remedy: remedy)
            }
        }
        let synchronized = sysroot.exists("/run/systemd/timesync/synchronized")
        return CheckResult(
            id: "clock", status: .pass,
            detail:
                "The system clock reads \(Self.format(now))\(synchronized ? ", synchronized by systemd-timesyncd" : "")."
        )
    }

    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }
}
