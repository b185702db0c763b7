import Host
import SBSCore

/// One thing an install plan does, as data: its argv (or the file it writes) is what the tests check, without
/// running anything.
public enum PlannedAction: Sendable, Hashable, CustomStringConvertible {
    /// Run a program; `timeout` bounds package downloads.
    case run([String], timeout: Duration)
    /// Write a file (an apt source line), atomically, with this mode.
    case write(path: String, text: String, mode: UInt32)

    public var description: String {
        switch self {
        case .run(let argv, _): return argv.joined(separator: " ")
        case .write(let path, _, _): return "write \(path)"
        }
    }
}

/// How Docker Engine and compose v2 are installed on a distribution, modelled as values.
public enum DockerInstallPlan {
    /// The key Docker signs its packages with (https://download.docker.com/linux/debian/gpg); apt trusts the
    /// repository only with it (`signed-by`), and the download is checked against this fingerprint first.
    public static let dockerKeyFingerprint = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
    public static let keyring = "/etc/apt/keyrings/docker.asc"

    static let aptTimeout: Duration = .seconds(1200)

    /// The steps for `os` on `architecture` (as `uname -m` names it).
    /// - Throws: `UserError` naming what to install by hand on a system sbs does not know how to install on.
    public static func steps(for os: OSFacts, architecture: String) throws(UserError) -> [PlannedAction] {
        let family = Set([os.id] + os.idLike)
        let version = Double(os.versionID.split(separator: ".").prefix(2).joined(separator: ".")) ?? 0
        let apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
        if os.id == "ubuntu" && version >= 22.04 {
            // Ubuntu's own packages carry compose v2 (docker-compose-v2, universe) from 22.04 on.
            return [
                .run(apt + ["update", "-q"], timeout: aptTimeout),
                .run(apt + ["install", "-y", "-q", "docker.io", "docker-compose-v2"], timeout: aptTimeout),
            ]
        }
        if os.id == "debian" && version >= 13 {
            // Debian's own packages carry compose v2 from trixie on.
            return [
                .run(apt + ["update", "-q"], timeout: aptTimeout),
                .run(apt + ["install", "-y", "-q", "docker.io", "docker-compose"], timeout: aptTimeout),
            ]
        }
        if family.contains("debian") || family.contains("ubuntu") {
            let distribution =
                os.id == "ubuntu" || (family.contains("ubuntu") && os.id != "debian") ? "ubuntu" : "debian"
            guard let codename = os.versionCodename, !codename.isEmpty else {
                throw refusal(os, why: "/etc/os-release names no VERSION_CODENAME for Docker's apt repository")
            }
            let arch = try debianArchitecture(architecture, os: os)
            let source =
                "deb [arch=\(arch) signed-by=\(keyring)] https://download.docker.com/linux/\(distribution) \(codename) stable\n"
            return [
                .run(apt + ["update", "-q"], timeout: aptTimeout),
                .run(apt + ["install", "-y", "-q", "ca-certificates", "curl", "gnupg"], timeout: aptTimeout),
                .run(["install", "-m", "0755", "-d", "/etc/apt/keyrings"], timeout: .seconds(30)),
                .run(
                    [
                        "curl", "-fsSL", "--proto", "=https", "--retry", "3", "-o", keyring,
                        "https://download.docker.com/linux/\(distribution)/gpg",
                    ], timeout: .seconds(120)),
                .run(
                    [
                        "sh", "-c", "gpg --show-keys --with-colons \"$1\" | grep -q \"^fpr:*$2:\"", "check-key",
                        keyring,
                        dockerKeyFingerprint,
                    ], timeout: .seconds(30)),
                .write(path: "/etc/apt/sources.list.d/docker.list", text: source, mode: 0o644),
                .run(apt + ["update", "-q"], timeout: aptTimeout),
                .run(
                    apt + [
                        "install", "-y", "-q", "docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin",
                    ],
                    timeout: aptTimeout),
            ]
        }
        if !family.isDisjoint(with: ["rhel", "centos", "fedora", "rocky", "almalinux"]) {
            let repository = os.id == "fedora" ? "fedora" : "centos"
            return [
                .run(["dnf", "-y", "install", "dnf-plugins-core"], timeout: aptTimeout),
                .run(
                    [
                        "dnf", "config-manager", "--add-repo",
                        "https://download.docker.com/linux/\(repository)/docker-ce.repo",
                    ],
                    timeout: .seconds(120)),
                .run(
                    ["dnf", "-y", "install", "docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin"],
                    timeout: aptTimeout),
            ]
        }
        throw refusal(os, why: "sbs knows how to install Docker on Debian, Ubuntu and the RHEL family only")
    }

    /// Starting the engine: systemd where it runs (enabled for the next boot too), the SysV script otherwise.
    public static func start(systemd: Bool) -> PlannedAction {
        systemd
            ? .run(["systemctl", "enable", "--now", "docker"], timeout: .seconds(120))
            : .run(["service", "docker", "start"], timeout: .seconds(120))
    }

    static func debianArchitecture(_ machine: String, os: OSFacts) throws(UserError) -> String {
        switch machine {
        case "x86_64", "amd64": return "amd64"
        case "aarch64", "arm64": return "arm64"
        default: throw refusal(os, why: "Docker publishes no packages for \(machine)")
        }
    }

    static func refusal(_ os: OSFacts, why: String) -> UserError {
        UserError(
            "sbs cannot install Docker on \(os.prettyName): \(why).",
            remedy:
                "Install Docker Engine and the compose v2 plugin by hand (https://docs.docker.com/engine/install/), and check `docker compose version`."
        )
    }
}
