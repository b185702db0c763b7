import SBSCore

/// `firewall:` in the answers: whether sbs keeps a host firewall (default on).
public enum FirewallSwitch: String, Codable, Sendable, Equatable, CaseIterable {
    case on, off
}

/// sbs's host firewall as an nftables ruleset: one table of its own, `inet sbs` (IPv4 and IPv6), whose input
/// chain drops what it does not accept: loopback, replies to connections this host made, ICMP and ICMPv6 (IPv6
/// needs neighbour discovery to work at all), DHCP and DHCPv6 replies to this host's client (a lease that cannot
/// be renewed takes the address away; ufw's defaults accept them too), and new TCP connections to the SSH
/// port(s) and the site's http and https ports. Other tables (Docker's, the distribution's) are never touched; Docker's published ports pass its
/// own forward chain, not this input chain.
///
/// The file loads atomically with `nft -f` and converges: it declares the table (a no-op when it exists), deletes
/// it, and adds it whole, all in one transaction, so loading it again leaves exactly one copy and a failed load
/// leaves the previous rules in place.
public struct FirewallRuleset: Sendable, Hashable, Codable {
    public static let table = "sbs"
    /// The file under the install's root.
    public static let path = "/etc/sbs/firewall.nft"

    /// The TCP ports new connections may reach, sorted, each once.
    public let tcpPorts: [Int]

    public init(sshPorts: [Int], httpPort: Port, httpsPort: Port) {
        tcpPorts = Set(sshPorts + [httpPort.value, httpsPort.value]).sorted()
    }

    public var text: String {
        """
        #!/usr/sbin/nft -f
        # Written by sbs (configure-firewall); an edit is replaced on the next `sbs install` or `sbs resume`.
        # sbs's own table only: declared, deleted and added whole in one transaction, so loading this file again
        # leaves one copy, and the tables of Docker and of the distribution stay as they are.
        table inet \(Self.table)
        delete table inet \(Self.table)
        table inet \(Self.table) {
        \tchain input {
        \t\ttype filter hook input priority filter; policy drop;
        \t\tiifname "lo" accept
        \t\tct state invalid drop
        \t\tct state established,related accept
        \t\tmeta l4proto icmp accept
        \t\tmeta l4proto ipv6-icmp accept
        \t\tudp sport 67 udp dport 68 accept
        \t\tip6 saddr fe80::/10 udp sport 547 udp dport 546 accept
        \t\ttcp dport { \(tcpPorts.map(String.init).joined(separator: ", ")) } accept
        \t}
        }

        """
    }
}
