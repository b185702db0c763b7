import Foundation
import Host
import SBSCore
import Testing

@testable import Deploy

@Suite struct DockerInstallPlans {
    let apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]

    func argv(_ steps: [PlannedAction]) -> [[String]] {
        steps.compactMap { if case .run(let argv, _) = $0 { return argv } else { return nil } }
    }

    @Test func ubuntuUsesItsOwnComposeV2Packages() throws {
        let os = OSFacts(
            id: "ubuntu", idLike: ["debian"], versionID: "24.04", versionCodename: "noble", prettyName: "Ubuntu 24.04")
        #expect(
            argv(try DockerInstallPlan.steps(for: os, architecture: "x86_64")) == [
                apt + ["update", "-q"], apt + ["install", "-y", "-q", "docker.io", "docker-compose-v2"],
            ])
    }

    @Test func debianBookwormUsesDockersRepositoryPinnedByItsKey() throws {
        let os = OSFacts(
            id: "debian", versionID: "12", versionCodename: "bookworm", prettyName: "Debian GNU/Linux 12 (bookworm)")
        let steps = try DockerInstallPlan.steps(for: os, architecture: "x86_64")
        #expect(
            argv(steps) == [
                apt + ["update", "-q"],
                apt + ["install", "-y", "-q", "ca-certificates", "curl", "gnupg"],
                ["install", "-m", "0755", "-d", "/etc/apt/keyrings"],
                [
                    "curl", "-fsSL", "--proto", "=https", "--retry", "3", "-o", "/etc/apt/keyrings/docker.asc",
                    "https://download.docker.com/linux/debian/gpg",
                ],
                [
                    "sh", "-c", "gpg --show-keys --with-colons \"$1\" | grep -q \"^fpr:*$2:\"", "check-key",
                    "/etc/apt/keyrings/docker.asc",
                    "9DC858229FC7DD38854AE2D88D81803C0EBFCD88",
                ],
                apt + ["update", "-q"],
                apt + ["install", "-y", "-q", "docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin"],
            ])
        #expect(
            steps.contains(
                .write(
                    path: "/etc/apt/sources.list.d/docker.list",
                    text:
                        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable\n",
                    mode: 0o644)))
        // The key is checked before apt is told about the repository.
        let check = steps.firstIndex { $0.description.hasPrefix("sh -c gpg") } ?? -1
        let source = steps.firstIndex { $0.description.hasPrefix("write /etc/apt/sources.list.d/docker.list") } ?? -1
        #expect(check >= 0 && check < source)
    }

    @Test func aDerivativeUsesItsParentsRepositoryAndArm64IsNamedForApt() throws {
        let mint = OSFacts(
            id: "linuxmint", idLike: ["ubuntu", "debian"], versionID: "21.3", versionCodename: "jammy",
            prettyName: "Linux Mint 21.3")
        let steps = try DockerInstallPlan.steps(for: mint, architecture: "aarch64")
        #expect(steps.contains { $0.description == "write /etc/apt/sources.list.d/docker.list" })
        guard
            case .write(_, let text, _)? = steps.first(where: {
                if case .write = $0 { return true } else { return false }
            })
        else {
            Issue.record("no source line")
            return
        }
        #expect(
            text
                == "deb [arch=arm64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu jammy stable\n"
        )
    }

    @Test func rhelFamilyUsesDnfAndFedoraItsOwnRepository() throws {
        let rocky = OSFacts(
            id: "rocky", idLike: ["rhel", "centos", "fedora"], versionID: "9.3", prettyName: "Rocky Linux 9.3")
        #expect(
            argv(try DockerInstallPlan.steps(for: rocky, architecture: "x86_64")) == [
                ["dnf", "-y", "install", "dnf-plugins-core"],
                ["dnf", "config-manager", "--add-repo", "https://download.docker.com/linux/centos/docker-ce.repo"],
                ["dnf", "-y", "install", "docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin"],
            ])
        let fedora = OSFacts(id: "fedora", versionID: "40", prettyName: "Fedora Linux 40")
        #expect(
            argv(try DockerInstallPlan.steps(for: fedora, architecture: "x86_64"))[1].last
                == "https://download.docker.com/linux/fedora/docker-ce.repo")
    }

    @Test func unknownSystemsAreRefusedNamingWhatToDoByHand() {
        for (os, arch) in [
            (OSFacts(id: "arch", versionID: "", prettyName: "Arch Linux"), "x86_64"),
            (OSFacts(id: "debian", versionID: "12", versionCodename: "bookworm", prettyName: "Debian 12"), "riscv64"),
            (OSFacts(id: "debian", versionID: "12", prettyName: "Debian 12 without codename"), "x86_64"),
        ] {
            let error = #expect(throws: UserError.self) { try DockerInstallPlan.steps(for: os, architecture: arch) }
            #expect(error?.message.hasPrefix("sbs cannot install Docker on \(os.prettyName)") == true)
            #expect(error?.remedy?.contains("https://docs.docker.com/engine/install/") == true)
        }
    }

    @Test func theEngineStartsWithSystemdOrTheServiceScript() {
        #expect(
            DockerInstallPlan.start(systemd: true)
                == .run(["systemctl", "enable", "--now", "docker"], timeout: .seconds(120)))
        #expect(
            DockerInstallPlan.start(systemd: false) == .run(["service", "docker", "start"], timeout: .seconds(120)))
    }
}

@Suite struct ComposeStatusParsing {
    let lines = """
        {"Command":"\\"docker-entrypoint.s…\\"","ExitCode":0,"Health":"healthy","Name":"sbs-app-db-1","Service":"app-db","State":"running"}
        {"ExitCode":1,"Health":"","Name":"sbs-app-api-1","Service":"app-api","State":"exited"}
        {"ExitCode":0,"Health":"starting","Name":"sbs-nginx-1","Service":"nginx","State":"running"}
        """

    @Test func oneObjectPerLineAndOneArrayReadAlike() throws {
        let perLine = try ComposeContainer.parse(lines)
        #expect(perLine.map(\.service) == ["app-db", "app-api", "nginx"])
        #expect(perLine.map(\.isReady) == [true, false, false])
        #expect(perLine[1].exitCode == 1)
        let array = "[" + lines.split(separator: "\n").joined(separator: ",") + "]"
        #expect(try ComposeContainer.parse(array) == perLine)
        // What the parser reads, it reads back: encode and parse again.
        let encoded = try perLine.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }.joined(
            separator: "\n")
        #expect(try ComposeContainer.parse(encoded) == perLine)
        #expect(try ComposeContainer.parse("\n") == [])
    }

    @Test func somethingElseIsAClearError() {
        let error = #expect(throws: UserError.self) {
            try ComposeContainer.parse("NAME  IMAGE  STATUS\nsbs-app-db-1 postgres Up")
        }
        #expect(error?.message.contains("cannot read") == true)
    }
}
