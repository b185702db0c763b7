import Foundation
import Host
import Testing
import Yams

@testable import Render

/// docker-compose.yml read back as compose reads it: every service runs with exactly its row of `ServicePrivileges`
/// (Docker's capabilities dropped, the row's added, no-new-privileges, the read-only root, tmpfs and process limit),
/// and every row says why for each capability and each writable path.
@Suite struct PrivilegesTests {
    @Test(arguments: GoldenCase.allCases)
    func everyServiceRunsWithExactlyItsDeclaredPrivileges(_ golden: GoldenCase) throws {
        let (input, secrets) = try golden.input()
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        let text = try #require(files.first { $0.relativePath == "docker-compose.yml" }).text
        let compose = try #require(try Yams.load(yaml: text) as? [String: Any])
        let services = try #require(compose["services"] as? [String: Any])
        // Every service but the pooler, which runs on a swarm only (SwarmStackTests).
        #expect(services.keys.sorted() == StackService.allCases.filter { $0 != .appPooler }.map(\.rawValue).sorted())
        for (name, value) in services {
            let service = try #require(value as? [String: Any], "\(name)")
            let declared = try #require(StackService(rawValue: name)).privileges
            #expect(service["security_opt"] as? [String] == ["no-new-privileges:true"], "\(name)")
            #expect(service["cap_drop"] as? [String] == ["ALL"], "\(name)")
            #expect((service["cap_add"] as? [String] ?? []) == declared.capabilityNames, "\(name)")
            #expect((service["read_only"] as? Bool ?? false) == declared.readOnly, "\(name)")
            #expect((service["tmpfs"] as? [String] ?? []) == declared.writable.map(\.path), "\(name)")
            #expect(service["privileged"] == nil && service["network_mode"] == nil && service["pid"] == nil, "\(name)")
            let limits =
                (((service["deploy"] as? [String: Any])?["resources"] as? [String: Any])?["limits"])
                as? [String: Any]
            #expect(limits?["pids"] as? Int == declared.pidsLimit, "\(name)")
            // A tmpfs over a folder the service is also given as a volume would hide the volume.
            let volumes = (service["volumes"] as? [String] ?? []).compactMap {
                $0.split(separator: ":").dropFirst().first
            }
            for path in declared.writable.map(\.path) {
                #expect(!volumes.contains(Substring(path)), "\(name): \(path)")
            }
        }
    }

    @Test func everyCapabilityAndWritablePathSaysWhy() throws {
        for service in StackService.allCases {
            let row = service.privileges
            #expect(row.service == service)
            for capability in row.capabilities {
                #expect(!capability.why.isEmpty && capability.name == capability.name.uppercased(), "\(service)")
                #expect(!capability.name.hasPrefix("CAP_") && capability.name != "ALL", "\(service)")
            }
            for path in row.writable { #expect(path.path.hasPrefix("/") && !path.why.isEmpty, "\(service)") }
            // A writable root needs no tmpfs: one given anyway would say the row is confused.
            #expect(row.readOnly || row.writable.isEmpty, "\(service)")
            #expect(row.pidsLimit >= 64, "\(service)")
            #expect(!row.capabilityNames.contains("SYS_ADMIN") && !row.capabilityNames.contains("NET_ADMIN"))
        }
        // app-db forks one process per connection: its limit leaves room above every profile's max_connections
        // for PostgreSQL's own processes and the entrypoint's.
        let connections = try Repository.profileTable().profiles.map(\.postgres.maxConnections)
        #expect(!connections.isEmpty)
        for maxConnections in connections { #expect(StackService.appDB.privileges.pidsLimit >= maxConnections + 64) }
    }
}
