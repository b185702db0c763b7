import SBSCore

/// A unit file: its name (`sbs-renew.timer`) and its text.
public struct SystemdUnit: Sendable, Hashable, Codable {
    public var name: String
    public var text: String

    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }
}

/// The systemd services and timers that keep an install healthy after `sbs install` ends: `sbs renew` twice a
/// day (reloading the stack's nginx after a renewal), `sbs verify --json` every hour, `sbs backup` (restic)
/// every night when backups are on, and `sbs metrics` every minute when monitoring is on. Pure: values in, unit texts out; the install-timers step
/// writes them.
///
/// Every value that lands in a unit is checked (absolute, no control characters: a line break would start a new
/// setting) and quoted as systemd reads command lines: each word in double quotes with `\` and `"` escaped,
/// `%` written `%%` (specifiers) and `$` written `$$` (variable expansion). The program itself (the first word) is
/// read differently: systemd refuses `"`, `'` and `\` in it and expands no variables there, so a program path with
/// any of those or `$` is refused here.
public struct SystemdUnits: Sendable, Hashable, Codable {
    /// Where unit files for the local administrator go (under the install's root).
    public static let directory = "/etc/systemd/system"
    public static let renewService = "sbs-renew.service"
    public static let renewTimer = "sbs-renew.timer"
    public static let verifyService = "sbs-verify.service"
    public static let verifyTimer = "sbs-verify.timer"
    public static let backupService = "sbs-backup.service"
    public static let backupTimer = "sbs-backup.timer"
    public static let metricsService = "sbs-metrics.service"
    public static let metricsTimer = "sbs-metrics.timer"
    /// Every name this type may write: what a step removes is chosen from these only.
    public static let allNames = [
        renewService, renewTimer, verifyService, verifyTimer, backupService, backupTimer, metricsService, metricsTimer,
    ]

    /// The sbs binary the services run.
    public let executable: String
    /// The install's root: `--root ROOT` is passed to sbs only when it is not `/`.
    public let root: String
    /// The stack, for the nginx reload after a renewal.
    public let project: ComposeProject
    /// Whether the nightly `sbs backup` runs.
    public let backups: Bool
    /// Whether `sbs metrics` writes the containers' states for Prometheus every minute.
    public let monitoring: Bool

    /// - Throws: `UserError` when a path is not absolute or holds a control character (it could not be written
    ///   into a unit file safely).
    public init(
        executable: String, root: String, project: ComposeProject, backups: Bool, monitoring: Bool = false
    ) throws(UserError) {
        try Self.checkProgram(executable, what: "sbs executable")
        try Self.checkPath(root, what: "install root")
        try Self.checkPath(project.directory, what: "deploy folder")
        try Self.checkText(project.name, what: "compose project name")
        self.executable = executable
        self.root = root
        self.project = project
        self.backups = backups
        self.monitoring = monitoring
    }

    /// The timers, in the order they are enabled.
    public var timers: [String] {
        [Self.renewTimer, Self.verifyTimer] + (backups ? [Self.backupTimer] : [])
            + (monitoring ? [Self.metricsTimer] : [])
    }

    /// The unit files, services before their timers.
    public var units: [SystemdUnit] {
        var units = [
            SystemdUnit(
                name: Self.renewService,
                text: service(
                    description: "Renew the certificates of the Small Business Server (sbs renew)",
                    command: sbs(["renew", "--wait-for-lock", "900"]), timeout: "45min")),
            SystemdUnit(
                name: Self.renewTimer,
                text: timer(
                    description: "Check twice a day whether the Small Business Server's certificates are due",
                    schedule: ["OnCalendar=*-*-* 00,12:00:00", "RandomizedDelaySec=12h", "Persistent=true"])),
            SystemdUnit(
                name: Self.verifyService,
                text: service(
                    description: "Verify the running Small Business Server (sbs verify)",
                    command: sbs(["verify", "--json"]), timeout: "15min")),
            SystemdUnit(
                name: Self.verifyTimer,
                text: timer(
                    description: "Verify the Small Business Server every hour",
                    schedule: ["OnCalendar=hourly", "RandomizedDelaySec=10min"])),
        ]
        if backups {
            // The repository may be anywhere (a mounted disk, sftp): sbs backup writes it, so the service may write
            // what is not the system's own (ProtectSystem=full keeps /usr, /boot and /etc read-only).
            units.append(
                SystemdUnit(
                    name: Self.backupService,
                    text: service(
                        description: "Back up the Small Business Server into its restic repository (sbs backup)",
                        command: sbs(["backup", "--wait-for-lock", "900"]), timeout: "6h")))
            units.append(
                SystemdUnit(
                    name: Self.backupTimer,
                    text: timer(
                        description: "Back up the Small Business Server every night",
                        schedule: ["OnCalendar=*-*-* 03:15:00", "RandomizedDelaySec=30min", "Persistent=true"])))
        }
        if monitoring {
            // A run a minute: systemd's own "Starting/Finished" lines (info) are kept out of the journal, sbs's
            // errors (written at warning) stay in it.
            units.append(
                SystemdUnit(
                    name: Self.metricsService,
                    text: service(
                        description: "Write the Small Business Server's container states for Prometheus (sbs metrics)",
                        command: sbs(["metrics", "--quiet"]), timeout: "50s",
                        settings: ["SyslogLevel=warning", "LogLevelMax=warning"])))
            units.append(
                SystemdUnit(
                    name: Self.metricsTimer,
                    text: timer(
                        description: "Write the Small Business Server's container states every minute",
                        schedule: ["OnCalendar=minutely", "AccuracySec=5s"])))
        }
        return units
    }

    public static let firewallService = "sbs-firewall.service"

    /// `sbs-firewall.service` (written by configure-firewall, not install-timers): loads sbs's nftables table at
    /// boot, before the network comes up (as Debian's nftables.service does), so the rules survive a reboot.
    /// - Throws: `UserError` when a path cannot go into a unit (see `init`).
    public static func firewall(nft: String, rules: String) throws(UserError) -> SystemdUnit {
        try checkProgram(nft, what: "nft program")
        try checkPath(rules, what: "firewall rules file")
        let load = "\(quoteProgram(nft)) -f \(quote(rules))"
        return SystemdUnit(
            name: firewallService,
            text: """
                # Written by sbs (configure-firewall); an edit is replaced on the next `sbs install` or `sbs resume`.
                [Unit]
                Description=Load the Small Business Server's host firewall (nftables table inet sbs)
                DefaultDependencies=no
                Wants=network-pre.target
                Before=network-pre.target network-online.target shutdown.target
                Conflicts=shutdown.target

                [Service]
                Type=oneshot
                RemainAfterExit=yes
                ExecStart=\(load)
                ExecReload=\(load)

                [Install]
                WantedBy=sysinit.target

                """)
    }

    /// `sbs ARGS [--root ROOT]`.
    func sbs(_ arguments: [String]) -> [String] {
        [executable] + arguments + (root == "/" ? [] : ["--root", root])
    }

    /// Folders the services write (everything else of /usr, /boot and /etc is read-only to them).
    var stateFolders: [String] {
        ["/etc/sbs", "/var/lib/sbs", "/var/log/sbs"].map { root == "/" ? $0 : root + $0 }
    }

    /// A private /tmp, unless the root itself is in /tmp (a demo's), which the service would then not see.
    var privateTmp: Bool { !["/tmp/", "/var/tmp/"].contains { (root + "/").hasPrefix($0) } }

    func service(
        description: String, command: [String], timeout: String, writable: [String] = [], settings: [String] = []
    ) -> String {
        """
        # Written by sbs (install-timers); an edit is replaced on the next `sbs install` or `sbs resume`.
        [Unit]
        Description=\(description)
        Wants=network-online.target
        After=network-online.target docker.service

        [Service]
        Type=oneshot
        ExecStart=\(([Self.quoteProgram(command[0])] + command.dropFirst().map(Self.quote)).joined(separator: " "))
        TimeoutStartSec=\(timeout)
        # sbs needs the Docker socket, its own folders and the network; the rest of the system stays read-only.
        ProtectSystem=full
        ReadWritePaths=\((stateFolders + writable).map { "-" + Self.quote($0) }.joined(separator: " "))
        \(privateTmp ? "PrivateTmp=yes\n" : "")NoNewPrivileges=yes
        ProtectKernelTunables=yes
        ProtectKernelModules=yes
        ProtectControlGroups=yes
        RestrictSUIDSGID=yes
        LockPersonality=yes
        \(settings.map { $0 + "\n" }.joined())
        """
    }

    func timer(description: String, schedule: [String]) -> String {
        """
        # Written by sbs (install-timers); an edit is replaced on the next `sbs install` or `sbs resume`.
        [Unit]
        Description=\(description)

        [Timer]
        \(schedule.joined(separator: "\n"))

        [Install]
        WantedBy=timers.target

        """
    }

    /// One word of a systemd command line (or path list), quoted: systemd unquotes `"…"` with C escapes, then
    /// expands `%` specifiers and `$` variables, which `%%` and `$$` stand for literally.
    public static func quote(_ word: String) -> String {
        var out = "\""
        for character in word.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "%": out += "%%"
            case "$": out += "$$"
            default: out.unicodeScalars.append(character)
            }
        }
        return out + "\""
    }

    /// The program of a command line (checked by `checkProgram`): quoted, `%` written `%%`.
    static func quoteProgram(_ path: String) -> String {
        "\"" + path.split(separator: "%", omittingEmptySubsequences: false).joined(separator: "%%") + "\""
    }

    static func checkPath(_ path: String, what: String) throws(UserError) {
        try checkText(path, what: what)
        guard path.hasPrefix("/") else {
            throw UserError(
                "The \(what) '\(path.debugSafe)' is not an absolute path; a systemd unit needs one.",
                remedy: "Give it as an absolute path.")
        }
    }

    static func checkProgram(_ path: String, what: String) throws(UserError) {
        try checkPath(path, what: what)
        if let bad = path.first(where: { "\"'\\$".contains($0) }) {
            throw UserError(
                "The \(what) '\(path.debugSafe)' holds \(bad), which systemd does not accept in the path of a program it runs.",
                remedy:
                    "Move it to a folder whose path has no quotes, backslashes or dollar signs (such as /usr/local/bin)."
            )
        }
    }

    static func checkText(_ text: String, what: String) throws(UserError) {
        guard !text.isEmpty,
            !text.unicodeScalars.contains(where: {
                $0.value < 0x20 || $0.value == 0x7f || (0x80..<0xa0).contains($0.value)
            })
        else {
            throw UserError(
                "The \(what) '\(text.debugSafe)' is empty or holds a control character (a line break, a tab …), which cannot go into a systemd unit.",
                remedy: "Choose a \(what) without control characters.")
        }
    }
}
