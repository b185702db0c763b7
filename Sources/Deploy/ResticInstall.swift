import Host
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
                "Install restic by hand (https://restic.readthedocs.io/), check `restic version`, then run `sbs resume`."
        )
    }
}
