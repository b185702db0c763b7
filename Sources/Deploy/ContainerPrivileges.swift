import FoundationEssentials
import Processes
import SBSCore

/// A running container's privileges and published ports, as `docker inspect` reports them: what `sbs verify`'s
/// `privileges` check compares with `ServicePrivileges`, and its `published-ports` check reads for containers
/// started beside the stack.
public struct ContainerPrivileges: Sendable, Equatable {
    /// A port published on the host (`HostConfig`'s bindings as `NetworkSettings.Ports` reports them).
    public struct Published: Sendable, Equatable {
        /// The host address (`0.0.0.0`, `::`, `127.0.0.1`; empty: every address).
        public var hostIP: String
        public var hostPort: Int
        public var containerPort: Int
        public var `protocol`: String

        public init(hostIP: String, hostPort: Int, containerPort: Int, protocol: String = "tcp") {
            self.hostIP = hostIP
            self.hostPort = hostPort
            self.containerPort = containerPort
            self.protocol = `protocol`
        }

        /// Reachable from this host only.
        public var isLoopback: Bool { hostIP.hasPrefix("127.") || hostIP == "::1" || hostIP == "localhost" }
    }

    public var name: String
    /// Labels `com.docker.compose.project` and `com.docker.compose.service` (or a swarm stack's: see
    /// `DockerInspect.stackService`); nil for a container compose did not
    /// create.
    public var project: String?
    public var service: String?
    /// Carries the label sbs renders on the services that mount its files (`sbs.config-digest`): a container of
    /// an sbs stack, this one or another installation's on the same engine.
    public var renderedBySBS: Bool
    public var privileged: Bool
    /// Capabilities added and dropped, upper case without `CAP_` (`NET_BIND_SERVICE`, `ALL`).
    public var capAdd: [String]
    public var capDrop: [String]
    /// `no-new-privileges` (or `no-new-privileges:true`) among its security options.
    public var noNewPrivileges: Bool
    public var readOnly: Bool
    /// nil: no limit (Docker reports 0, -1 or null).
    public var pidsLimit: Int?
    /// The host's namespaces it shares: `network`, `pid`, `ipc`, `uts`, `userns` (not cgroup: the engine's default
    /// on cgroup v1 hosts).
    public var hostNamespaces: [String]
    /// The engine's socket is mounted into it: whoever controls the container controls the engine, so the host.
    public var mountsEngineSocket: Bool
    public var published: [Published]

    public init(
        name: String, project: String? = nil, service: String? = nil, renderedBySBS: Bool = false,
        privileged: Bool = false,
        capAdd: [String] = [], capDrop: [String] = [], noNewPrivileges: Bool = false, readOnly: Bool = false,
        pidsLimit: Int? = nil, hostNamespaces: [String] = [], mountsEngineSocket: Bool = false,
        published: [Published] = []
    ) {
        self.name = name
        self.project = project
        self.service = service
        self.renderedBySBS = renderedBySBS
        self.privileged = privileged
        self.capAdd = capAdd
        self.capDrop = capDrop
        self.noNewPrivileges = noNewPrivileges
        self.readOnly = readOnly
        self.pidsLimit = pidsLimit
        self.hostNamespaces = hostNamespaces
        self.mountsEngineSocket = mountsEngineSocket
        self.published = published
    }

    private struct Inspected: Decodable {
        struct HostConfig: Decodable {
            var Privileged: Bool?
            var CapAdd: [String]?
            var CapDrop: [String]?
            var SecurityOpt: [String]?
            var ReadonlyRootfs: Bool?
            var PidsLimit: Int?
            var NetworkMode: String?
            var PidMode: String?
            var IpcMode: String?
            var UTSMode: String?
            var UsernsMode: String?
        }
        struct Config: Decodable { var Labels: [String: String]? }
        struct Mount: Decodable {
            var Source: String?
            var Destination: String?
        }
        struct NetworkSettings: Decodable {
            struct Binding: Decodable {
                var HostIp: String?
                var HostPort: String?
            }
            var Ports: [String: [Binding]?]?
        }
        struct State: Decodable { var Pid: Int? }
        var Name: String
        var State: State?
        var HostConfig: HostConfig
        var Config: Config
        var Mounts: [Mount]?
        var NetworkSettings: NetworkSettings?
    }

    /// `docker inspect` output (a JSON array).
    /// - Throws: `UserError` quoting the start of what could not be read.
    public static func parse(_ text: String) throws(UserError) -> [ContainerPrivileges] {
        privileges(try DockerInspect.decode(text))
    }

    /// - Parameter noNewPrivs: whether the process with this pid has the kernel's no_new_privs bit: how a
    ///   container of a swarm service shows it, which cannot ask for it in its own settings but gets it from the
    ///   engine's `no-new-privileges` setting.
    private static func privileges(_ inspected: [Inspected], noNewPrivs: (Int) -> Bool = { _ in false })
        -> [ContainerPrivileges]
    {
        inspected.map { item in
            let host = item.HostConfig
            let labels = item.Config.Labels ?? [:]
            func capabilities(_ list: [String]?) -> [String] {
                (list ?? []).map { name in
                    let upper = name.uppercased()
                    return upper.hasPrefix("CAP_") ? String(upper.dropFirst(4)) : upper
                }.sorted()
            }
            let namespaces: [(String, String?)] = [
                ("network", host.NetworkMode), ("pid", host.PidMode), ("ipc", host.IpcMode), ("uts", host.UTSMode),
                ("userns", host.UsernsMode),
            ]
            let engineSockets: Set<String> = ["/var/run/docker.sock", "/run/docker.sock"]
            var published: [Published] = []
            for (key, bindings) in item.NetworkSettings?.Ports ?? [:] {
                let parts = key.split(separator: "/")
                guard let port = parts.first.flatMap({ Int($0) }) else { continue }
                let proto = parts.count > 1 ? String(parts[1]) : "tcp"
                for binding in (bindings ?? []) {
                    guard let hostPort = binding.HostPort.flatMap({ Int($0) }) else { continue }
                    published.append(
                        Published(
                            hostIP: binding.HostIp ?? "", hostPort: hostPort, containerPort: port, protocol: proto))
                }
            }
            return ContainerPrivileges(
                name: item.Name.hasPrefix("/") ? String(item.Name.dropFirst()) : item.Name,
                project: DockerInspect.stackService(labels).project,
                service: DockerInspect.stackService(labels).service,
                renderedBySBS: labels["sbs.config-digest"] != nil,
                privileged: host.Privileged ?? false, capAdd: capabilities(host.CapAdd),
                capDrop: capabilities(host.CapDrop),
                noNewPrivileges: (host.SecurityOpt ?? []).contains {
                    $0 == "no-new-privileges" || $0 == "no-new-privileges:true" || $0 == "no-new-privileges=true"
                } || (item.State?.Pid).map { $0 > 0 && noNewPrivs($0) } == true,
                readOnly: host.ReadonlyRootfs ?? false,
                pidsLimit: host.PidsLimit.flatMap { $0 > 0 ? $0 : nil },
                hostNamespaces: namespaces.filter { $0.1 == "host" }.map(\.0),
                mountsEngineSocket: (item.Mounts ?? []).contains { engineSockets.contains($0.Source ?? "") },
                published: published.sorted {
                    ($0.containerPort, $0.hostIP, $0.hostPort) < ($1.containerPort, $1.hostIP, $1.hostPort)
                })
        }.sorted { $0.name < $1.name }
    }

    /// Every running container of the engine (`docker ps -q`, then `docker inspect`), the stack's and any other.
    /// - Throws: `UserError` when docker fails or prints what cannot be read.
    public static func read(runner: any CommandRunner) async throws(UserError) -> [ContainerPrivileges] {
        let list = try await runner.run(["docker", "ps", "--quiet", "--no-trunc"], timeout: .seconds(60))
        guard list.status == 0 else {
            throw UserError(
                "`docker ps` failed (\(list.timedOut ? "timed out" : "exit \(list.status)")): \(list.stderr.lastLines(3))",
                remedy: "Check that the Docker engine runs (`docker info`).")
        }
        let ids = list.stdout.split(separator: "\n").map { String($0).trimmed }.filter { !$0.isEmpty }
        return privileges(
            try await DockerInspect.containers(ids, as: Inspected.self, runner: runner),
            noNewPrivs: processHasNoNewPrivs)
    }

    /// `NoNewPrivs: 1` in /proc/PID/status.
    static func processHasNoNewPrivs(_ pid: Int) -> Bool {
        guard let status = try? AtomicFile.readText("/proc/\(pid)/status", limit: .config) else { return false }
        return status.split(separator: "\n").contains { line in
            line.hasPrefix("NoNewPrivs:") && line.dropFirst("NoNewPrivs:".count).trimmed == "1"
        }
    }
}
