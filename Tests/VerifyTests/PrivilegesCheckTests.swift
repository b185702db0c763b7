import Deploy
import Foundation
import Host
import SBSCore
import TestSupport
import Testing

@testable import Verify

/// `privileges` and the engine's part of `published-ports`, on what Docker 20.10 printed for three containers
/// (Tests/Fixtures/docker/inspect-privileges.json: one run with nginx's declared privileges, one with SYS_ADMIN, the
/// host's network and pid namespaces and the engine's socket, one beside any stack publishing a UDP port).
@Suite struct PrivilegesCheckTests {
    static func fixture() throws -> [ContainerPrivileges] {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(
            contentsOfFile: tests.appendingPathComponent("Fixtures/docker/inspect-privileges.json").path,
            encoding: .utf8)
        return try ContainerPrivileges.parse(text)
    }

    @Test func dockerInspectIsReadAsTheEngineReportsIt() throws {
        let found = try Self.fixture()
        #expect(found.map(\.name) == ["beside", "priv-hardened", "priv-wide"])
        let hardened = found[1]
        #expect(hardened.project == "sbs-test" && hardened.service == "nginx")
        // Docker prints CAP_CHOWN for --cap-add CAP_CHOWN and for --cap-add NET_BIND_SERVICE alike.
        #expect(hardened.capAdd == ["CHOWN", "NET_BIND_SERVICE"] && hardened.capDrop == ["ALL"])
        #expect(hardened.noNewPrivileges && hardened.readOnly && hardened.pidsLimit == 512)
        #expect(hardened.hostNamespaces.isEmpty && !hardened.mountsEngineSocket && !hardened.privileged)
        #expect(
            hardened.published == [
                .init(hostIP: "0.0.0.0", hostPort: 19998, containerPort: 80),
                .init(hostIP: "127.0.0.1", hostPort: 19997, containerPort: 81),
            ])
        let wide = found[2]
        #expect(wide.capAdd == ["SYS_ADMIN"] && wide.capDrop.isEmpty && !wide.noNewPrivileges && !wide.readOnly)
        #expect(wide.pidsLimit == nil && wide.hostNamespaces == ["network", "pid"] && wide.mountsEngineSocket)
        let beside = found[0]
        #expect(beside.project == nil && beside.service == nil)
        #expect(
            beside.published == [
                .init(hostIP: "0.0.0.0", hostPort: 19996, containerPort: 80, protocol: "udp"),
                .init(hostIP: "::", hostPort: 19996, containerPort: 80, protocol: "udp"),
            ])
        #expect(throws: UserError.self) { try ContainerPrivileges.parse("Error: No such container: x") }
    }

    @Test func aContainerWithMoreThanItsServiceDeclaresFailsNamingEachExcess() throws {
        let found = try Self.fixture()
        #expect(StackChecks.excess(found[1], declared: StackService.nginx.privileges).isEmpty)
        // The same container read as another service: nginx's capabilities are more than app-web's (none), and
        // its process limit is above app-web's.
        #expect(
            StackChecks.excess(found[1], declared: StackService.appWeb.privileges) == [
                "capabilities beyond its own: CHOWN, NET_BIND_SERVICE", "a process limit of 512 (sbs sets 256)",
            ])
        #expect(
            StackChecks.excess(found[2], declared: StackService.appAPI.privileges) == [
                "capabilities beyond its own: SYS_ADMIN", "Docker's default capabilities (no cap_drop: ALL)",
                "may gain privileges (no no-new-privileges)", "a writable root filesystem", "no process limit",
                "the host's network namespace", "the host's pid namespace", "the Docker engine's socket mounted",
            ])
        var privileged = found[1]
        privileged.privileged = true
        #expect(StackChecks.excess(privileged, declared: StackService.nginx.privileges) == ["privileged"])
        // Dropping one capability is not dropping Docker's defaults.
        var some = found[1]
        some.capDrop = ["NET_RAW"]
        #expect(
            StackChecks.excess(some, declared: StackService.nginx.privileges) == [
                "Docker's default capabilities (no cap_drop: ALL)"
            ])
        // A service that may write its root (app-db) is not reported for it.
        var database = found[1]
        database.readOnly = false
        database.capAdd = ["CHOWN", "SETUID"]
        #expect(StackChecks.excess(database, declared: StackService.appDB.privileges).isEmpty)

        let checks = StackChecks(target: makeTarget(), probe: FixedProbe(list: .success([]), results: [:]))
        let check = checks.privileges(.success(found))
        #expect(check.status == .fail)
        #expect(check.detail.contains("priv-wide: capabilities beyond its own: SYS_ADMIN;"), "\(check.detail)")
        #expect(!check.detail.contains("priv-hardened") && !check.detail.contains("beside"), "\(check.detail)")
        #expect(check.remedy?.contains("sbs install --from write-configs") == true)
        let passing = checks.privileges(.success([found[0], found[1]]))
        #expect(passing.status == .pass, "\(passing.detail)")
        #expect(passing.detail.hasPrefix("1 containers, none with more than sbs declares"))
        // Nothing of the stack runs, or the engine does not answer: a failure, never a pass.
        #expect(checks.privileges(.success([found[0]])).status == .fail)
        #expect(checks.privileges(.failure(UserError("docker: not found"))).status == .fail)
        // A service sbs does not declare, added to the project by hand.
        var extra = found[1]
        extra.service = "adminer"
        #expect(checks.privileges(.success([extra])).detail.contains("service adminer is not one sbs declares"))
    }

    @Test func aContainerBesideTheStackPublishingOnAPublicAddressFailsPublishedPorts() throws {
        let found = try Self.fixture()
        let checks = StackChecks(target: makeTarget(), probe: FixedProbe(list: .success([]), results: [:]))
        let failed = checks.publishedPorts(.success([]), engine: .success(found))
        #expect(failed.status == .fail)
        #expect(
            failed.detail
                == "containers started beside the stack publish on public addresses: beside 0.0.0.0:19996→80/udp, beside [::]:19996→80/udp"
        )
        #expect(failed.remedy?.hasPrefix("Stop beside (`docker stop NAME`)") == true)
        // The stack's own containers are judged from compose's list (priv-hardened is of project sbs-test).
        #expect(checks.publishedPorts(.success([]), engine: .success([found[1], found[2]])).status == .pass)
        // Published on loopback only: not public.
        var loopback = found[0]
        loopback.published = [.init(hostIP: "127.0.0.1", hostPort: 19996, containerPort: 80)]
        #expect(checks.publishedPorts(.success([]), engine: .success([loopback])).status == .pass)
        #expect(checks.publishedPorts(.success([]), engine: .failure(UserError("no engine"))).status == .fail)
        // Another sbs installation's nginx (the demo beside a test install): its 80 and 443 are its own site's.
        var demo = found[1]
        demo.project = "sbs-demo"
        demo.renderedBySBS = true
        demo.published = [
            .init(hostIP: "0.0.0.0", hostPort: 5002, containerPort: 80),
            .init(hostIP: "::", hostPort: 5443, containerPort: 443),
        ]
        let shared = checks.publishedPorts(.success([]), engine: .success([demo]))
        #expect(shared.status == .pass, "\(shared.detail)")
        #expect(shared.detail.hasSuffix("the nginx of another sbs installation on this engine (sbs-demo)"))
        // The same without sbs's label, or publishing another port, is a container beside the stack.
        var unlabelled = demo
        unlabelled.renderedBySBS = false
        #expect(checks.publishedPorts(.success([]), engine: .success([unlabelled])).status == .fail)
        var extraPort = demo
        extraPort.published.append(.init(hostIP: "0.0.0.0", hostPort: 8080, containerPort: 8080))
        let extra = checks.publishedPorts(.success([]), engine: .success([extraPort]))
        #expect(
            extra.status == .fail && extra.detail.contains("0.0.0.0:8080→8080/tcp") && !extra.detail.contains("5443"))
    }
}
