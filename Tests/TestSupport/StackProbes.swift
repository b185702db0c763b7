import Deploy
import Host
import Processes
import SBSCore
import Testing
import Verify

/// A stack probe with fixed containers and fixed command results by service and argv. It fails closed: an exec it
/// has no answer for records a test failure and throws. The engine's containers are `engine`, or when nil, the
/// running ones of `list`, each with exactly its declared privileges (`ServicePrivileges`), in project `project`.
public struct FixedProbe: StackProbe {
    public var list: Result<[ComposeContainer], UserError>
    public var results: [String: CommandResult]
    public var engine: Result<[ContainerPrivileges], UserError>?
    public var project: String
    private let sourceLocation: SourceLocation

    public init(
        list: Result<[ComposeContainer], UserError>, results: [String: CommandResult],
        engine: Result<[ContainerPrivileges], UserError>? = nil, project: String = "sbs-test",
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        self.list = list
        self.results = results
        self.engine = engine
        self.project = project
        self.sourceLocation = sourceLocation
    }

    public func engineContainers() async throws(UserError) -> [ContainerPrivileges] {
        if let engine { return try engine.get() }
        return try list.get().filter { $0.state == "running" }.map { container in
            Self.declared(container, project: project)
        }
    }

    /// `container` as the engine shows it when it runs with exactly its service's declared privileges.
    public static func declared(_ container: ComposeContainer, project: String) -> ContainerPrivileges {
        let declared = StackService(rawValue: container.service)?.privileges
        return ContainerPrivileges(
            name: container.name, project: project, service: container.service,
            capAdd: declared?.capabilityNames ?? [], capDrop: ["ALL"], noNewPrivileges: true,
            readOnly: declared?.readOnly ?? false, pidsLimit: declared?.pidsLimit,
            published: container.publishers.filter { $0.publishedPort != 0 }.map {
                .init(hostIP: $0.url, hostPort: $0.publishedPort, containerPort: $0.targetPort, protocol: $0.protocol)
            })
    }

    public func containers() async throws(UserError) -> [ComposeContainer] { try list.get() }

    public func exec(_ service: String, _ argv: [String]) async throws(UserError) -> CommandResult {
        let key = ([service] + argv).joined(separator: " ")
        guard let result = results[key] else {
            Issue.record("unexpected exec \(key)", sourceLocation: sourceLocation)
            throw UserError("unexpected exec in test: \(key)")
        }
        return result
    }
}
