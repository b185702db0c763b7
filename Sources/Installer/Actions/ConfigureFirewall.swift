import Deploy
import FoundationEssentials
import Glibc
import Host
import Processes
import SBSCore
import StepGraph
import Wizard

/// `configure-firewall`: the host firewall lets in only SSH (the port(s) sshd's configuration gives, and those it
/// listens on), the site's http and https ports, loopback, ICMP and replies; everything else that reaches the host
/// is dropped. Docker's published ports (nginx's alone) go through Docker's own chains, so this is about every
/// other service on the host. Runs before start-proxy, so the http port is open for the ACME challenge.
///
/// Where ufw is active or firewalld runs, their own commands allow the ports (rules beside theirs would be a
/// second firewall nobody looks at). Otherwise sbs writes `/etc/sbs/firewall.nft` (its own table `inet sbs`, see
/// `FirewallRuleset`) and `sbs-firewall.service`, which loads it at boot, and loads it now with `nft -f` — only
/// when the install's root is `/`: under another root (a demo, a test) the host's kernel is not this install's.
/// It reads sshd's configuration on every run, so a changed SSH port is followed; a run that finds everything as
/// it should be changes nothing. `firewall: off` in the answers leaves the host's firewall alone and removes sbs's
/// own, when an earlier run set it up.
struct ConfigureFirewall: StepAction {
    static let name = "configure-firewall"
    static let observes = true
    let tools: InstallTools

    struct Input: Codable, Hashable, Sendable {
        var firewall: FirewallSwitch
        var httpPort: SBSCore.Port
        var httpsPort: SBSCore.Port
        /// `ROOT/etc/sbs/firewall.nft`.
        var rulesFile: String
        /// `ROOT/etc/systemd/system`.
        var unitDirectory: String
        var sysroot: String
        /// The root is `/`: the rules go into the running kernel and systemd enables the unit.
        var loadIntoKernel: Bool
        /// ufw, firewalld and systemctl may be asked: the real ones when the root is `/`, a fixture's stand-ins
        /// under a fixture sysroot; never the host's for an install under another root.
        var hostCommandsAllowed: Bool
    }

    struct Output: Codable, Hashable, Sendable {
        /// `off`, `nftables`, `ufw` or `firewalld`.
        var firewall: String
        var sshPorts: [Int] = []
        var allowedPorts: [Int] = []
        /// True when the rules are in the running kernel (or in ufw's or firewalld's).
        var active: Bool = false
    }

    /// Debian, Ubuntu and the RHEL family install nft here.
    static let nft = "/usr/sbin/nft"

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(
            firewall: context.answers.firewall, httpPort: context.answers.httpPort,
            httpsPort: context.answers.httpsPort, rulesFile: context.layout.resolve(FirewallRuleset.path),
            unitDirectory: context.layout.resolve(SystemdUnits.directory), sysroot: context.sysroot,
            loadIntoKernel: context.layout.root == "/",
            hostCommandsAllowed: context.layout.root == "/" || context.sysroot != "/")
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        guard input.firewall == .on else {
            try await removeOwnFirewall(input, log: log)
            return StepResult(Output(firewall: "off"))
        }
        let sysroot = Sysroot(input.sysroot)
        let ssh = try SSHDConfigReader(sysroot: sysroot).ports(
            listening: PortListenerTable(sysroot: sysroot).allListeners())
        log.progress(ssh.summary)
        let ruleset = FirewallRuleset(sshPorts: ssh.ports, httpPort: input.httpPort, httpsPort: input.httpsPort)
        let ports = ruleset.tcpPorts
        let portList = ports.map(String.init).joined(separator: ", ")

        if input.hostCommandsAllowed, let frontEnd = try await activeFrontEnd() {
            let added = try await allow(ports, through: frontEnd, log: log)
            log.progress(
                added.isEmpty
                    ? "\(frontEnd.name) already allows TCP ports \(portList); nothing changed"
                    : "\(frontEnd.name) now allows TCP port\(added.count == 1 ? "" : "s") \(added.map(String.init).joined(separator: ", ")) (all allowed: \(portList))"
            )
            return StepResult(
                Output(firewall: frontEnd.name, sshPorts: ssh.ports, allowedPorts: ports, active: true))
        }

        let unit = try SystemdUnits.firewall(nft: Self.nft, rules: input.rulesFile)
        let unitFile = input.unitDirectory + "/" + unit.name
        let rulesChanged = try writeIfChanged(ruleset.text, to: input.rulesFile)
        let unitChanged = try writeIfChanged(unit.text, to: unitFile)
        let products = [ProductFile(input.rulesFile), ProductFile(unitFile)]
        guard input.loadIntoKernel else {
            log.progress(
                "rules for TCP ports \(portList) \(rulesChanged || unitChanged ? "written to" : "unchanged in") \(input.rulesFile) and \(unitFile); not loaded into the running kernel: the install's root is not / (on the server itself, `nft -f \(input.rulesFile)` loads them)"
            )
            return StepResult(
                Output(firewall: "nftables", sshPorts: ssh.ports, allowedPorts: ports), products: products)
        }
        guard sysroot.exists(Self.nft) else {
            throw UserError(
                "nft (nftables) is not installed, so sbs cannot load the host firewall it wrote to \(input.rulesFile).",
                remedy:
                    "Install it (`apt-get install nftables` or `dnf install nftables`) and run `sbs resume`, or set `firewall: off` in the answers."
            )
        }
        let loaded = try await tools.commands.run(
            [Self.nft, "list", "table", "inet", FirewallRuleset.table], timeout: .seconds(30))
        if rulesChanged || loaded.status != 0 {
            // Checked whole first (nft -c changes nothing), then loaded in one transaction.
            try await nft(["-c", "-f", input.rulesFile], log: log)
            try await nft(["-f", input.rulesFile], log: log)
            log.progress("host firewall loaded: only TCP ports \(portList) (and loopback, ICMP, replies) come in")
        } else {
            log.progress("host firewall unchanged: TCP ports \(portList) (and loopback, ICMP, replies)")
        }
        if sysroot.exists("/run/systemd/system") {
            if unitChanged { try await systemctl(["daemon-reload"], log: log) }
            let enabled = try await tools.commands.run(
                ["systemctl", "is-enabled", unit.name], timeout: .seconds(30))
            if enabled.status != 0 { try await systemctl(["enable", unit.name], log: log) }
        } else {
            log.progress(
                "systemd does not run on this host: \(unitFile) was written but not enabled, so the rules are not loaded at boot"
            )
        }
        return StepResult(
            Output(firewall: "nftables", sshPorts: ssh.ports, allowedPorts: ports, active: true), products: products)
    }

    /// `firewall: off` after a run that kept the firewall with nftables: sbs's own table leaves the kernel, its
    /// unit is disabled, and both files go; the host's own firewall (and the allow rules sbs gave ufw or
    /// firewalld, which are theirs now) stay as they are. Nothing here can lock anyone out: it only opens.
    func removeOwnFirewall(_ input: Input, log: StepLog) async throws {
        let unitFile = input.unitDirectory + "/" + SystemdUnits.firewallService
        guard AtomicFile.exists(input.rulesFile) || AtomicFile.exists(unitFile) else {
            log.progress("firewall: off in the answers; the host firewall is left as it is")
            return
        }
        let sysroot = Sysroot(input.sysroot)
        let systemd = input.loadIntoKernel && sysroot.exists("/run/systemd/system")
        if systemd {
            let enabled = try await tools.commands.run(
                ["systemctl", "is-enabled", SystemdUnits.firewallService], timeout: .seconds(30))
            if enabled.status == 0 { try await systemctl(["disable", SystemdUnits.firewallService], log: log) }
        }
        if input.loadIntoKernel && sysroot.exists(Self.nft) {
            let loaded = try await tools.commands.run(
                [Self.nft, "list", "table", "inet", FirewallRuleset.table], timeout: .seconds(30))
            if loaded.status == 0 { try await nft(["delete", "table", "inet", FirewallRuleset.table], log: log) }
        }
        for path in [unitFile, input.rulesFile] where unlink(path) != 0 && errno != ENOENT {
            throw AtomicFile.systemError("unlink", path)
        }
        if systemd { try await systemctl(["daemon-reload"], log: log) }
        log.progress(
            input.loadIntoKernel
                ? "firewall: off in the answers: sbs's own firewall is removed (table inet \(FirewallRuleset.table) unloaded, \(SystemdUnits.firewallService) disabled, \(input.rulesFile) and \(unitFile) deleted); a firewall of the host's own is left as it is"
                : "firewall: off in the answers: \(input.rulesFile) and \(unitFile) an earlier run wrote are deleted (nothing was loaded under this root)"
        )
    }

    /// ufw or firewalld, when one of them guards the host.
    enum FrontEnd {
        case ufw(status: String)
        case firewalld(services: String, ports: String)

        var name: String {
            switch self {
            case .ufw: return "ufw"
            case .firewalld: return "firewalld"
            }
        }
    }

    func activeFrontEnd() async throws -> FrontEnd? {
        let ufw = try await tools.commands.run(["ufw", "status"], timeout: .seconds(30))
        if ufw.status == 0, ufw.stdout.contains("Status: active") { return .ufw(status: ufw.stdout) }
        let firewalld = try await tools.commands.run(["firewall-cmd", "--state"], timeout: .seconds(30))
        if firewalld.status == 0, firewalld.stdout.contains("running") {
            let services = try await tools.commands.run(["firewall-cmd", "--list-services"], timeout: .seconds(30))
            let ports = try await tools.commands.run(["firewall-cmd", "--list-ports"], timeout: .seconds(30))
            return .firewalld(services: services.stdout, ports: ports.stdout)
        }
        return nil
    }

    /// Adds what the front end does not allow yet. - Returns: the ports added.
    func allow(_ ports: [Int], through frontEnd: FrontEnd, log: StepLog) async throws -> [Int] {
        switch frontEnd {
        case .ufw(let status):
            let missing = ports.filter { !FirewallCheck.ufwAllows($0, in: status) }
            for port in missing { try await command(["ufw", "allow", "\(port)/tcp"], log: log) }
            return missing
        case .firewalld(let services, let open):
            let missing = ports.filter { !FirewallCheck.firewalldAllows($0, services: services, ports: open) }
            for port in missing {
                try await command(["firewall-cmd", "--permanent", "--add-port=\(port)/tcp"], log: log)
            }
            if !missing.isEmpty { try await command(["firewall-cmd", "--reload"], log: log) }
            return missing
        }
    }

    /// Writes `text` unless the file already holds exactly it. - Returns: whether it wrote.
    func writeIfChanged(_ text: String, to path: String) throws(UserError) -> Bool {
        if let current = try? AtomicFile.read(path, limit: .config), current == Array(text.utf8) { return false }
        try AtomicFile.write(text, to: path, mode: 0o644)
        return true
    }

    func nft(_ arguments: [String], log: StepLog) async throws {
        try await command([Self.nft] + arguments, log: log)
    }

    func systemctl(_ arguments: [String], log: StepLog) async throws {
        try await command(["systemctl"] + arguments, log: log)
    }

    func command(_ argv: [String], log: StepLog) async throws {
        log.info(argv.joined(separator: " "))
        let result = try await tools.commands.run(argv, timeout: .seconds(60))
        guard result.status == 0 else {
            throw UserError(
                "`\(argv.joined(separator: " "))` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \((result.stderr + result.stdout).lastLines(3))",
                remedy:
                    "Fix what it reports and run `sbs resume`, or set `firewall: off` in the answers to leave the host firewall as it is."
            )
        }
    }
}
