import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

@testable import Host

@Suite("Firewall ruleset") struct FirewallRulesetText {
    @Test func onlySSHAndTheSitesPortsComeInThroughSBSsOwnTable() throws {
        let ruleset = FirewallRuleset(sshPorts: [2222, 22], httpPort: .http, httpsPort: try Port(8443))
        #expect(ruleset.tcpPorts == [22, 80, 2222, 8443])
        let lines = ruleset.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("tcp dport { 22, 80, 2222, 8443 } accept"))
        #expect(lines.contains("type filter hook input priority filter; policy drop;"))
        for rule in [
            "iifname \"lo\" accept", "ct state invalid drop", "ct state established,related accept",
            "meta l4proto icmp accept", "meta l4proto ipv6-icmp accept", "udp sport 67 udp dport 68 accept",
            "ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept",
        ] {
            #expect(lines.contains(rule), "\(rule)")
        }
        // Declared, deleted, then whole: loading twice leaves one copy. No other table, no flush of the ruleset.
        let statements = lines.filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(Array(statements.prefix(3)) == ["table inet sbs", "delete table inet sbs", "table inet sbs {"])
        #expect(!ruleset.text.contains("flush ruleset"))
        #expect(lines.filter { $0.hasPrefix("table ") }.count == 2)
    }
}

/// The rendered ruleset in a real kernel: a server network namespace with the rules loaded, a client namespace
/// joined to it by a veth pair, listeners in the server on the fixture's SSH port (2222), 22, 80, 443, 5432 and
/// 9090, and the client connecting to each over IPv4 and IPv6. Nothing touches the host's own namespace.
@Suite("Firewall in network namespaces", .requires("ip", "nft", install: "apt-get install -y iproute2 nftables"))
struct FirewallInNamespaces {
    let runner = SystemCommandRunner(searchPath: Integration.searchPath)
    let id = String(getpid())
    var server: String { "sbs-fw-srv-\(id)" }
    var client: String { "sbs-fw-cli-\(id)" }

    @discardableResult
    func run(_ argv: String..., expect ok: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> CommandResult
    {
        let result = try await runner.run(argv, timeout: .seconds(30))
        if ok {
            #expect(
                result.status == 0, "\(argv.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        }
        return result
    }

    func inServer(_ argv: String...) async throws -> CommandResult {
        try await runner.run(["ip", "netns", "exec", server] + argv, timeout: .seconds(30))
    }

    /// `PORT:open`, `PORT:timeout` or `PORT:ERRNO` for each port, from the client.
    func probe(_ address: String, _ ports: [Int], script: String) async throws -> [Int: String] {
        let result = try await runner.run(
            ["ip", "netns", "exec", client, "/usr/bin/python3", script, address] + ports.map(String.init),
            timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stderr)")
        var found: [Int: String] = [:]
        for word in result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = word.split(separator: ":")
            if parts.count == 2, let port = Int(parts[0]) { found[port] = String(parts[1]) }
        }
        return found
    }

    @Test func onlyTheAllowedPortsConnectAndASecondLoadChangesNothing() async throws {
        try Integration.require(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs /usr/bin/python3")
        let added = try await runner.run(["ip", "netns", "add", server], timeout: .seconds(30))
        try Integration.require(
            added.status == 0,
            "`ip netns add` is not permitted here (\(added.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))")
        var listener: pid_t?
        defer {
            if let listener {
                kill(listener, SIGKILL)
                _ = waitForExit(listener)
            }
            // Removing the namespaces removes the veth pair and every rule loaded in them.
            for namespace in [server, client] {
                _ = spawnQuietly(["ip", "netns", "del", namespace]).map(waitForExit)
            }
        }
        try await run("ip", "netns", "add", client)
        try await run(
            "ip", "-n", server, "link", "add", "sbsfw\(id)s", "type", "veth", "peer", "name", "sbsfw\(id)c", "netns",
            client)
        for (namespace, device, v4, v6) in [
            (server, "sbsfw\(id)s", "10.213.7.1/24", "fd00:5b5::1/64"),
            (client, "sbsfw\(id)c", "10.213.7.2/24", "fd00:5b5::2/64"),
        ] {
            try await run("ip", "-n", namespace, "addr", "add", v4, "dev", device)
            try await run("ip", "-n", namespace, "addr", "add", v6, "dev", device, "nodad")
            try await run("ip", "-n", namespace, "link", "set", device, "up")
            try await run("ip", "-n", namespace, "link", "set", "lo", "up")
        }

        // The SSH port read from a fixture's sshd_config (Debian's stock file, Port 2222 in sshd_config.d).
        let ssh = try SSHDConfigReader(sysroot: Fixtures.host("sshd-port-2222")).ports()
        #expect(ssh.ports == [2222])
        let ruleset = FirewallRuleset(sshPorts: ssh.ports, httpPort: .http, httpsPort: .https)
        let folder = try TemporaryDirectory("firewall")
        try folder.write("firewall.nft", ruleset.text)
        try folder.write(
            "listen.py",
            """
            import socket, sys, time
            sockets = []
            for port in sys.argv[2:]:
                s = socket.socket(socket.AF_INET6)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("::", int(port)))
                s.listen(64)
                sockets.append(s)
            open(sys.argv[1], "w").write("ready")
            time.sleep(600)

            """)
        try folder.write(
            "probe.py",
            """
            import socket, sys
            out = []
            for port in sys.argv[2:]:
                try:
                    socket.create_connection((sys.argv[1], int(port)), timeout=1.0).close()
                    out.append(port + ":open")
                except socket.timeout:
                    out.append(port + ":timeout")
                except OSError as error:
                    out.append(port + ":" + str(error.errno))
            print(" ".join(out))

            """)
        let ports = [22, 80, 443, 2222, 5432, 9090]
        let ready = folder.path + "/ready"
        listener = spawnQuietly(
            ["ip", "netns", "exec", server, "/usr/bin/python3", folder.path + "/listen.py", ready]
                + ports.map(String.init))
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: ready) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(FileManager.default.fileExists(atPath: ready), "the listeners did not start")

        // Without rules every port answers: what is closed later is closed by the rules.
        let open = Dictionary(uniqueKeysWithValues: ports.map { ($0, "open") })
        #expect(try await probe("10.213.7.1", ports, script: folder.path + "/probe.py") == open)

        // Another table of the host's (Docker's, the distribution's) stays as it is.
        let other = "table ip keep {\n\tset seen {\n\t\ttype ipv4_addr\n\t}\n}\n"
        try folder.write("other.nft", other)
        #expect(try await inServer("nft", "-f", folder.path + "/other.nft").status == 0)

        let file = folder.path + "/firewall.nft"
        let first = try await inServer("nft", "-f", file)
        #expect(first.status == 0, "\(first.stderr)")
        let once = try await inServer("nft", "list", "ruleset").stdout
        let second = try await inServer("nft", "-f", file)
        #expect(second.status == 0, "\(second.stderr)")
        let twice = try await inServer("nft", "list", "ruleset").stdout
        #expect(once == twice, "a second load changed the ruleset:\n\(once)\n---\n\(twice)")
        #expect(twice.components(separatedBy: "table inet sbs").count == 2, "\(twice)")
        #expect(twice.contains("table ip keep"), "\(twice)")
        #expect(twice.contains("tcp dport { 80, 443, 2222 } accept"), "\(twice)")

        var expected = Dictionary(uniqueKeysWithValues: ports.map { ($0, "timeout") })
        for port in [80, 443, 2222] { expected[port] = "open" }
        #expect(try await probe("10.213.7.1", ports, script: folder.path + "/probe.py") == expected)
        // IPv6 too, which needs the ICMPv6 of neighbour discovery to reach the server at all.
        #expect(try await probe("fd00:5b5::1", ports, script: folder.path + "/probe.py") == expected)
    }
}
