import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

@testable import Host

/// Fake ufw / firewall-cmd programs in a fixture tree, run through the real command runner. The check holds
/// the tree, which is removed when the check goes.
func firewallCheck(_ programs: [String: String]) throws -> FirewallCheckOnTree {
    let tree = try TemporaryDirectory()
    for (name, output) in programs {
        try tree.write("usr/bin/\(name)", "#!/bin/sh\n\(output)\n", mode: 0o755)
    }
    return FirewallCheckOnTree(
        tree: tree, check: FirewallCheck(runner: SystemCommandRunner(searchPath: [tree.path + "/usr/bin"])))
}

struct FirewallCheckOnTree {
    let tree: TemporaryDirectory
    let check: FirewallCheck

    func check(httpPort: SBSCore.Port, httpsPort: SBSCore.Port, managed: Bool = false) async -> CheckResult {
        let result = await check.check(httpPort: httpPort, httpsPort: httpsPort, managed: managed)
        withExtendedLifetime(tree) {}
        return result
    }
}

@Suite("Firewall check") struct FirewallChecks {
    let http = SBSCore.Port.http, https = SBSCore.Port.https

    @Test func noFirewallPasses() async throws {
        let result = await (try firewallCheck([:])).check(httpPort: http, httpsPort: https)
        #expect(result.status == .pass)
        #expect(result.detail.contains("No active ufw or firewalld"))
    }

    @Test func inactiveUfwPasses() async throws {
        let result = await (try firewallCheck(["ufw": "echo 'Status: inactive'"])).check(
            httpPort: http, httpsPort: https)
        #expect(result.status == .pass)
    }

    @Test func activeUfwWithoutTheWebPortsWarnsWithTheCommands() async throws {
        let ufw =
            "printf 'Status: active\\n\\nTo                         Action      From\\n--                         ------      ----\\n22/tcp                     ALLOW       Anywhere\\n80/tcp                     ALLOW       Anywhere\\n'"
        let result = await (try firewallCheck(["ufw": ufw])).check(httpPort: http, httpsPort: https)
        #expect(result.status == .warn)
        #expect(result.detail.contains("does not allow port 443"))
        #expect(result.remedy == "Make ufw's rules say what is true: `ufw allow 443/tcp`.")
        // With firewall: on, configure-firewall adds the rule: the check says so and does not warn.
        let managed = await (try firewallCheck(["ufw": ufw])).check(httpPort: http, httpsPort: https, managed: true)
        #expect(managed.status == .pass)
        #expect(
            managed.detail
                == "ufw is active and does not allow port 443 yet; configure-firewall allows it (firewall: on).")
    }

    @Test func activeUfwAllowingBothPasses() async throws {
        let ufw = "printf 'Status: active\\n\\n80,443/tcp                 ALLOW       Anywhere\\n'"
        let result = await (try firewallCheck(["ufw": ufw])).check(httpPort: http, httpsPort: https)
        #expect(result.status == .pass)
        let profile = "printf 'Status: active\\n\\nNginx Full                 ALLOW       Anywhere\\n'"
        #expect(await (try firewallCheck(["ufw": profile])).check(httpPort: http, httpsPort: https).status == .pass)
    }

    @Test func firewalldWithoutHTTPSWarns() async throws {
        let cmd = """
            case "$1" in
              --state) echo running ;;
              --list-services) echo "ssh dhcpv6-client http" ;;
              --list-ports) echo "" ;;
            esac
            """
        let result = await (try firewallCheck(["firewall-cmd": cmd])).check(httpPort: http, httpsPort: https)
        #expect(result.status == .warn)
        #expect(result.remedy?.contains("firewall-cmd --permanent --add-port=443/tcp") == true)
        let customPorts = cmd.replacingOccurrences(of: "echo \"\" ;;", with: "echo \"8443/tcp\" ;;")
        let custom = await (try firewallCheck(["firewall-cmd": customPorts])).check(
            httpPort: http, httpsPort: try SBSCore.Port(8443))
        #expect(custom.status == .pass)
    }
}
