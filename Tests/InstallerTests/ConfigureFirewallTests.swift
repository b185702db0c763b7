import Deploy
import Foundation
import Host
import Processes
import SBSCore
import StepGraph
import TestSupport
import Testing
import Wizard

@testable import Installer

/// configure-firewall on a scratch root, with a fixture host (sshd's configuration, and what else the case needs)
/// and a runner that fails closed on any command it was not told about: the host's ufw, firewalld, systemd and
/// kernel are never touched.
struct FirewallFixture {
    let root: String
    let host: String

    init(sshdConfig: String? = "Include /etc/ssh/sshd_config.d/*.conf\n", dropIns: [String: String] = [:]) throws {
        root = try Scratch.folder("firewall-root")
        host = try Scratch.folder("firewall-host")
        if let sshdConfig { try write("etc/ssh/sshd_config", sshdConfig) }
        for (name, text) in dropIns { try write("etc/ssh/sshd_config.d/" + name, text) }
    }

    func write(_ relative: String, _ text: String) throws {
        let path = host + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    var rulesFile: String { root + "/etc/sbs/firewall.nft" }
    var unitFile: String { root + "/etc/systemd/system/sbs-firewall.service" }

    func action(_ runner: any CommandRunner) throws -> ConfigureFirewall {
        ConfigureFirewall(
            tools: InstallTools(
                commands: runner, secrets: AnswerSecretValues(),
                digester: try SecretDigester.load(Layout(root: root), create: false)))
    }

    func input(firewall: FirewallSwitch = .on, httpsPort: Int = 443) throws -> ConfigureFirewall.Input {
        var answers = Answers()
        answers.domain = try DomainName("shop.example.test")
        answers.firewall = firewall
        answers.httpsPort = try SBSCore.Port(httpsPort)
        let inputs = InstallInputs(
            answers: answers, layout: Layout(root: root), sysroot: host, assets: AssetSnapshot(files: [:]),
            secretDigests: [:], executable: "/usr/local/bin/sbs")
        return try action(RefusingRunner()).input(inputs, needs: NeededOutputs([:]))
    }
}

@Suite struct ConfigureFirewallStep {
    /// Under another root, `off` after `on` deletes the two files an earlier run wrote, and asks nothing.
    @Test func offUnderAnotherRootDeletesTheFilesAnEarlierRunWrote() async throws {
        let fixture = try FirewallFixture()
        for (path, text) in [(fixture.rulesFile, "table inet sbs {}\n"), (fixture.unitFile, "[Unit]\n")] {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let shown = ShownLines()
        let result = try await fixture.action(RefusingRunner()).run(
            try fixture.input(firewall: .off), log: shown.log("configure-firewall"))
        #expect(result.output == ConfigureFirewall.Output(firewall: "off"))
        #expect(!FileManager.default.fileExists(atPath: fixture.rulesFile))
        #expect(!FileManager.default.fileExists(atPath: fixture.unitFile))
        #expect(shown.text.contains("an earlier run wrote are deleted"), "\(shown.text)")
    }

    @Test func offRecordsOffAndTouchesNothing() async throws {
        let fixture = try FirewallFixture()
        let shown = ShownLines()
        let result = try await fixture.action(RefusingRunner()).run(
            try fixture.input(firewall: .off), log: shown.log("configure-firewall"))
        #expect(result.output == ConfigureFirewall.Output(firewall: "off"))
        #expect(result.products.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: fixture.rulesFile))
        #expect(shown.text.contains("firewall: off in the answers"), "\(shown.text)")
    }

    /// Under another root: the files, with the fixture's SSH port, and no rule loaded; a second run writes nothing.
    @Test func underAnotherRootTheFilesAreWrittenNotLoaded() async throws {
        let fixture = try FirewallFixture(dropIns: ["50-port.conf": "Port 2222\n"])
        let input = try fixture.input(httpsPort: 8443)
        #expect(!input.loadIntoKernel && input.hostCommandsAllowed)
        // Neither ufw nor firewalld is installed (a shell's 127).
        let runner = ScriptedRunner([
            ["ufw", "status"]: .exit(127, stderr: "ufw: not found").repeating,
            ["firewall-cmd", "--state"]: .exit(127, stderr: "firewall-cmd: not found").repeating,
        ])
        let shown = ShownLines()
        let result = try await fixture.action(runner).run(input, log: shown.log("configure-firewall"))
        #expect(
            result.output
                == ConfigureFirewall.Output(
                    firewall: "nftables", sshPorts: [2222], allowedPorts: [80, 2222, 8443], active: false))
        let rules = try String(contentsOfFile: fixture.rulesFile, encoding: .utf8)
        #expect(rules == FirewallRuleset(sshPorts: [2222], httpPort: .http, httpsPort: try Port(8443)).text)
        let unit = try String(contentsOfFile: fixture.unitFile, encoding: .utf8)
        #expect(unit.contains("ExecStart=\"/usr/sbin/nft\" -f \"\(fixture.rulesFile)\""), "\(unit)")
        #expect(result.products.map(\.path) == [fixture.rulesFile, fixture.unitFile])
        #expect(shown.text.contains("not loaded into the running kernel: the install's root is not /"), "\(shown.text)")
        #expect(shown.text.contains("SSH port 2222"), "\(shown.text)")

        let before = try FileManager.default.attributesOfItem(atPath: fixture.rulesFile)[.modificationDate] as? Date
        try await Task.sleep(for: .milliseconds(20))
        let again = ShownLines()
        _ = try await fixture.action(runner).run(input, log: again.log("configure-firewall"))
        #expect(again.text.contains("rules for TCP ports 80, 2222, 8443 unchanged in"), "\(again.text)")
        let after = try FileManager.default.attributesOfItem(atPath: fixture.rulesFile)[.modificationDate] as? Date
        #expect(before == after)
        #expect(!runner.calls.contains { $0.first == ConfigureFirewall.nft })
    }

    @Test func activeUfwAllowsWhatItLacksThroughItsOwnCommands() async throws {
        let fixture = try FirewallFixture(dropIns: ["port.conf": "Port 2222\n"])
        let status =
            "Status: active\n\nTo                         Action      From\n--                         ------      ----\n80/tcp                     ALLOW       Anywhere\n"
        let allowed =
            status
            + "443/tcp                    ALLOW       Anywhere\n2222/tcp                   ALLOW       Anywhere\n"
        let runner = ScriptedRunner([
            ["ufw", "status"]: .ok(status),
            ["ufw", "allow", "443/tcp"]: .ok("Rule added"),
            ["ufw", "allow", "2222/tcp"]: .ok("Rule added"),
            ["ufw", "status"]: .ok(allowed),
        ])
        let shown = ShownLines()
        let result = try await fixture.action(runner).run(try fixture.input(), log: shown.log("configure-firewall"))
        #expect(result.output.firewall == "ufw" && result.output.allowedPorts == [80, 443, 2222])
        #expect(shown.text.contains("ufw now allows TCP ports 443, 2222"), "\(shown.text)")
        #expect(!FileManager.default.fileExists(atPath: fixture.rulesFile))
        // Again: ufw allows them all, nothing is added.
        let again = ShownLines()
        _ = try await fixture.action(runner).run(try fixture.input(), log: again.log("configure-firewall"))
        #expect(again.text.contains("ufw already allows TCP ports 80, 443, 2222; nothing changed"), "\(again.text)")
        #expect(runner.unused.isEmpty)
    }

    @Test func runningFirewalldGetsPermanentPortsAndAReload() async throws {
        let fixture = try FirewallFixture(sshdConfig: "Port 22\n")
        let runner = ScriptedRunner([
            ["ufw", "status"]: .exit(127, stderr: "ufw: not found"),
            ["firewall-cmd", "--state"]: .ok("running\n"),
            ["firewall-cmd", "--list-services"]: .ok("dhcpv6-client ssh http\n"),
            ["firewall-cmd", "--list-ports"]: .ok("\n"),
            ["firewall-cmd", "--permanent", "--add-port=443/tcp"]: .ok("success"),
            ["firewall-cmd", "--reload"]: .ok("success"),
        ])
        let result = try await fixture.action(runner).run(
            try fixture.input(), log: ShownLines().log("configure-firewall"))
        #expect(result.output.firewall == "firewalld" && result.output.active)
        #expect(runner.unused.isEmpty)
        #expect(runner.calls.last == ["firewall-cmd", "--reload"])
    }

    @Test func aFailingFrontEndCommandStopsTheStepWithTheWayOut() async throws {
        let fixture = try FirewallFixture(sshdConfig: "Port 22\n")
        let runner = ScriptedRunner([
            ["ufw", "status"]: .ok("Status: active\n"),
            ["ufw", "allow", "22/tcp"]: .exit(1, stderr: "ERROR: Could not update running firewall"),
        ])
        let error = await #expect(throws: UserError.self) {
            try await fixture.action(runner).run(try fixture.input(), log: ShownLines().log("configure-firewall"))
        }
        #expect(error?.message.contains("ufw allow 22/tcp") == true, "\(String(describing: error))")
        #expect(error?.remedy?.contains("firewall: off") == true)
    }

    /// sshd installed, its configuration unreadable: refused before any command runs or file is written.
    @Test func anUnreadableSSHDConfigurationStopsTheStepBeforeAnythingChanges() async throws {
        let fixture = try FirewallFixture(sshdConfig: nil)
        try fixture.write("usr/sbin/sshd", "")
        let error = await #expect(throws: UserError.self) {
            try await fixture.action(RefusingRunner()).run(
                try fixture.input(), log: ShownLines().log("configure-firewall"))
        }
        #expect(error?.message.contains("/etc/ssh/sshd_config") == true, "\(String(describing: error))")
        #expect(error?.remedy?.contains("firewall: off") == true)
        #expect(!FileManager.default.fileExists(atPath: fixture.rulesFile))
    }
}

/// The step on "the server itself" (the Input says to load into the kernel), its nft commands run for real in a
/// network namespace of the test's own, systemctl scripted: the rules are checked, loaded once, the unit enabled;
/// a second run finds them loaded and the unit enabled and changes nothing.
@Suite(
    "configure-firewall loading into a kernel", .requires("ip", "nft", install: "apt-get install -y iproute2 nftables"))
struct ConfigureFirewallLoading {
    /// nft inside the namespace, everything else from the script.
    struct NamespaceRunner: CommandRunner {
        let namespace: String
        let scripted: ScriptedRunner
        func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult {
            guard argv.first == ConfigureFirewall.nft else { return try await scripted.run(argv, timeout: timeout) }
            return try await SystemCommandRunner(searchPath: Integration.searchPath).run(
                ["ip", "netns", "exec", namespace] + argv, timeout: timeout)
        }
    }

    @Test func theRulesAreLoadedOnceAndTheUnitEnabled() async throws {
        let namespace = "sbs-fw-step-\(getpid())"
        let added = try await SystemCommandRunner(searchPath: Integration.searchPath).run(
            ["ip", "netns", "add", namespace], timeout: .seconds(30))
        try Integration.require(added.status == 0, "`ip netns add` is not permitted here (\(added.stderr))")
        defer { _ = spawnQuietly(["ip", "netns", "del", namespace]).map(waitForExit) }

        let fixture = try FirewallFixture(dropIns: ["port.conf": "Port 2222\n"])
        try fixture.write("usr/sbin/nft", "")
        try FileManager.default.createDirectory(
            atPath: fixture.host + "/run/systemd/system", withIntermediateDirectories: true)
        var input = try fixture.input()
        input.loadIntoKernel = true
        let scripted = ScriptedRunner([
            ["ufw", "status"]: .exit(127, stderr: "ufw: not found").repeating,
            ["firewall-cmd", "--state"]: .exit(127, stderr: "firewall-cmd: not found").repeating,
            ["systemctl", "daemon-reload"]: .ok(),
            ["systemctl", "is-enabled", "sbs-firewall.service"]: .exit(1, stderr: "", stdout: "disabled\n"),
            ["systemctl", "enable", "sbs-firewall.service"]: .ok(),
            ["systemctl", "is-enabled", "sbs-firewall.service"]: .ok("enabled\n"),
        ])
        let runner = NamespaceRunner(namespace: namespace, scripted: scripted)
        let shown = ShownLines()
        let first = try await fixture.action(runner).run(input, log: shown.log("configure-firewall"))
        #expect(first.output.active && first.output.allowedPorts == [80, 443, 2222])
        #expect(shown.text.contains("host firewall loaded"), "\(shown.text)")
        let loaded = try await SystemCommandRunner(searchPath: Integration.searchPath).run(
            ["ip", "netns", "exec", namespace, "nft", "list", "ruleset"], timeout: .seconds(30))
        #expect(loaded.stdout.contains("tcp dport { 80, 443, 2222 } accept"), "\(loaded.stdout)")

        let again = ShownLines()
        _ = try await fixture.action(runner).run(input, log: again.log("configure-firewall"))
        #expect(again.text.contains("host firewall unchanged"), "\(again.text)")
        let still = try await SystemCommandRunner(searchPath: Integration.searchPath).run(
            ["ip", "netns", "exec", namespace, "nft", "list", "ruleset"], timeout: .seconds(30))
        #expect(still.stdout == loaded.stdout)
        #expect(scripted.calls.filter { $0 == ["systemctl", "daemon-reload"] }.count == 1)

        // `firewall: off` afterwards: sbs's table leaves the (namespace's) kernel, the unit is disabled, the files
        // go; an earlier table of another owner stays. Off again: nothing left to do, no command.
        _ = try await SystemCommandRunner(searchPath: Integration.searchPath).run(
            ["ip", "netns", "exec", namespace, "nft", "add", "table", "inet", "hosts-own"], timeout: .seconds(30))
        var off = try fixture.input(firewall: .off)
        off.loadIntoKernel = true
        let offScript = ScriptedRunner([
            ["systemctl", "is-enabled", "sbs-firewall.service"]: .ok("enabled\n"),
            ["systemctl", "disable", "sbs-firewall.service"]: .ok(),
            ["systemctl", "daemon-reload"]: .ok(),
        ])
        let removed = ShownLines()
        let result = try await fixture.action(NamespaceRunner(namespace: namespace, scripted: offScript)).run(
            off, log: removed.log("configure-firewall"))
        #expect(result.output == ConfigureFirewall.Output(firewall: "off"))
        #expect(removed.text.contains("sbs's own firewall is removed"), "\(removed.text)")
        let after = try await SystemCommandRunner(searchPath: Integration.searchPath).run(
            ["ip", "netns", "exec", namespace, "nft", "list", "tables"], timeout: .seconds(30))
        #expect(
            after.stdout.contains("table inet hosts-own") && !after.stdout.contains("table inet sbs"), "\(after.stdout)"
        )
        #expect(!FileManager.default.fileExists(atPath: fixture.rulesFile))
        #expect(!FileManager.default.fileExists(atPath: fixture.unitFile))
        #expect(offScript.unused.isEmpty && scripted.unused.isEmpty)
        let quiet = ShownLines()
        _ = try await fixture.action(RefusingRunner()).run(off, log: quiet.log("configure-firewall"))
        #expect(quiet.text.contains("the host firewall is left as it is"), "\(quiet.text)")
    }
}
