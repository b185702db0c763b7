import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Host

/// A sysroot holding the given files (paths relative to the tree's `/`).
func sshTree(_ files: [String: String]) throws -> TemporaryDirectory {
    let tree = try TemporaryDirectory()
    for (path, text) in files { try tree.write(path, text) }
    return tree
}

func sshPorts(_ files: [String: String], listening: [PortListener] = []) throws -> SSHPorts {
    let tree = try sshTree(files)
    return try withExtendedLifetime(tree) {
        try SSHDConfigReader(sysroot: Sysroot(tree.path)).ports(listening: listening)
    }
}

@Suite("SSH ports from sshd's configuration") struct SSHPortReading {
    @Test func debianStockConfigWithAPortInItsIncludeFolder() throws {
        let ports = try SSHDConfigReader(sysroot: Fixtures.host("sshd-port-2222")).ports()
        #expect(ports.ports == [2222])
        #expect(ports.sources == ["2222: /etc/ssh/sshd_config.d/50-port.conf:2"])
        #expect(ports.summary == "SSH port 2222 (2222: /etc/ssh/sshd_config.d/50-port.conf:2)")
    }

    @Test func noPortLineAnywhereMeansSSHDsDefault22() throws {
        let ports = try sshPorts(["etc/ssh/sshd_config": "#Port 2200\nUsePAM yes\n"])
        #expect(ports.ports == [22])
        #expect(ports.sources.first?.contains("sshd's default") == true)
    }

    @Test func everyPortLineCountsInAnyLetterCaseAndWithAnEqualsSign() throws {
        let ports = try sshPorts([
            "etc/ssh/sshd_config": "Port 22\nport 2222 # a trailing comment\nPORT=2200\n  Port = 2201\n#Port 9999\n"
        ])
        #expect(ports.ports == [22, 2200, 2201, 2222])
    }

    @Test func includesAreGlobbedInOrderAndRelativeToEtcSSH() throws {
        let ports = try sshPorts([
            "etc/ssh/sshd_config":
                "Include sshd_config.d/*.conf \"/etc/ssh/extra conf\"\nInclude /etc/ssh/missing.d/*.conf\n",
            "etc/ssh/sshd_config.d/10-a.conf": "Port 2022\nInclude nested.conf\n",
            "etc/ssh/sshd_config.d/20-b.conf": "Port 2023\n",
            "etc/ssh/sshd_config.d/ignored.txt": "Port 7777\n",
            "etc/ssh/nested.conf": "Port 2024\n",
            "etc/ssh/extra conf": "Port 2025\n",
        ])
        #expect(ports.ports == [2022, 2023, 2024, 2025])
        #expect(ports.sources.contains("2024: /etc/ssh/nested.conf:1"))
    }

    @Test func listenAddressesWithAPortUseItThoseWithoutUseEveryPort() throws {
        // Only addresses with their own port: Port (and its default 22) does not apply.
        let own = try sshPorts([
            "etc/ssh/sshd_config": "ListenAddress 192.0.2.7:2201\nListenAddress [2001:db8::7]:2202\nPort 2200\n"
        ])
        #expect(own.ports == [2201, 2202])
        // One address without a port listens on every Port (22 without one).
        let mixed = try sshPorts([
            "etc/ssh/sshd_config": "ListenAddress 0.0.0.0:2201\nListenAddress ::\nListenAddress 2001:db8::9\n"
        ])
        #expect(mixed.ports == [22, 2201])
        #expect(throws: UserError.self) { try sshPorts(["etc/ssh/sshd_config": "ListenAddress 0.0.0.0:ssh\n"]) }
    }

    @Test func aMatchBlockIsSkippedToTheEndOfItsFile() throws {
        let ports = try sshPorts([
            "etc/ssh/sshd_config":
                "Include /etc/ssh/sshd_config.d/*.conf\nPort 2222\nMatch User backup\n  Port 9999\n  Include /etc/ssh/match.conf\n",
            "etc/ssh/sshd_config.d/a.conf": "Match Address 10.0.0.0/8\n  PasswordAuthentication yes\n",
            "etc/ssh/sshd_config.d/b.conf": "Port 2223\n",
            "etc/ssh/match.conf": "Port 8888\n",
        ])
        // b.conf comes after a.conf's Match block, which ended with a.conf.
        #expect(ports.ports == [2222, 2223])
    }

    @Test func theListeningSSHDJoinsWhatTheConfigurationSays() throws {
        let listening = [
            PortListener(port: 2244, address: "0.0.0.0", inode: 1, pid: 9, process: "sshd"),
            PortListener(port: 5432, address: "0.0.0.0", inode: 2, pid: 10, process: "postgres"),
            // Loopback comes in through `lo`, whatever the port.
            PortListener(port: 14220, address: "127.0.0.1", inode: 3, pid: 11, process: "sshd"),
            PortListener(port: 14221, address: "::1", inode: 4, pid: 11, process: "sshd"),
        ]
        let ports = try sshPorts(["etc/ssh/sshd_config": "Port 2222\n"], listening: listening)
        #expect(ports.ports == [2222, 2244])
        #expect(ports.sources.contains("2244: sshd listening on 0.0.0.0"))
    }

    @Test func withoutSSHDThereIsNoSSHPort() throws {
        let ports = try sshPorts(["etc/os-release": "ID=debian\n"])
        #expect(ports.ports.isEmpty && !ports.sshdInstalled)
        #expect(ports.summary.contains("sshd is not installed"))
    }

    /// sshd installed, its configuration unreadable: refused, naming the file and `firewall: off`.
    @Test func anUnreadableConfigurationIsRefusedNamingTheFileAndTheAnswer() throws {
        let tree = try sshTree(["usr/sbin/sshd": ""])
        try FileManager.default.createDirectory(
            atPath: tree.path + "/etc/ssh/sshd_config", withIntermediateDirectories: true)
        let error = try #require(throws: UserError.self) {
            try SSHDConfigReader(sysroot: Sysroot(tree.path)).ports()
        }
        #expect(error.message.contains("/etc/ssh/sshd_config"), "\(error)")
        #expect(error.remedy?.contains("firewall: off") == true, "\(error)")
        // Installed without any configuration: the same.
        let bare = try sshTree(["usr/sbin/sshd": ""])
        #expect(throws: UserError.self) { try SSHDConfigReader(sysroot: Sysroot(bare.path)).ports() }
        // An included file that exists and cannot be read: the same; one that does not exist is skipped, as sshd
        // skips it.
        let included = try sshTree(["etc/ssh/sshd_config": "Include /etc/ssh/local.conf\nPort 2222\n"])
        try FileManager.default.createDirectory(
            atPath: included.path + "/etc/ssh/local.conf", withIntermediateDirectories: true)
        let inner = try #require(throws: UserError.self) {
            try SSHDConfigReader(sysroot: Sysroot(included.path)).ports()
        }
        #expect(inner.message.contains("/etc/ssh/local.conf"), "\(inner)")
        #expect(try sshPorts(["etc/ssh/sshd_config": "Include /etc/ssh/local.conf\nPort 2222\n"]).ports == [2222])
        #expect(throws: UserError.self) { try sshPorts(["etc/ssh/sshd_config": "Port twenty-two\n"]) }
    }

    @Test func wordsSplitAsSSHDSplitsThem() {
        #expect(SSHDConfigReader.words("  Port 22 # comment") == ["Port", "22"])
        #expect(SSHDConfigReader.words("Port=22") == ["Port", "22"])
        #expect(SSHDConfigReader.words("Port = 22") == ["Port", "22"])
        #expect(
            SSHDConfigReader.words("Include \"/etc/ssh/a b.conf\" c.conf") == [
                "Include", "/etc/ssh/a b.conf", "c.conf",
            ])
        #expect(SSHDConfigReader.words("\t# Port 22").isEmpty)
    }
}
