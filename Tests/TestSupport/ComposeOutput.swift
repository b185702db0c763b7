import Foundation

/// What `docker compose ps --all --format json` prints (compose 2.21 and later): one object per line, keys sorted,
/// with every field compose writes, not only those sbs reads. Tests script the `docker` command with it.
public enum ComposePS {
    public struct Container: Sendable {
        public var service: String
        public var image: String
        /// `running`, `exited`, `restarting`, `created` …
        public var state: String
        /// `healthy`, `unhealthy`, `starting`, or empty (no healthcheck).
        public var health: String
        public var exitCode: Int
        public var configHash: String
        /// (host address, host port, container port); a host port of 0 is only exposed.
        public var ports: [(url: String, published: Int, target: Int)]

        public init(
            _ service: String, image: String, state: String = "running", health: String = "healthy", exitCode: Int = 0,
            configHash: String = "0f3c5a1e9d4b2c7a8e6f1d0b3a5c7e9f2d4b6a8c0e1f3a5b7c9d1e3f5a7b9c1d",
            ports: [(url: String, published: Int, target: Int)] = []
        ) {
            self.service = service
            self.image = image
            self.state = state
            self.health = health
            self.exitCode = exitCode
            self.configHash = configHash
            self.ports = ports
        }
    }

    /// The lines for `containers` of the compose project `project`.
    public static func output(project: String, _ containers: [Container]) -> String {
        containers.map { line(project: project, $0) }.joined(separator: "\n") + (containers.isEmpty ? "" : "\n")
    }

    public static func line(project: String, _ c: Container) -> String {
        let name = "\(project)-\(c.service)-1"
        let status: String
        switch c.state {
        case "running":
            status =
                "Up 2 minutes"
                + (c.health.isEmpty ? "" : c.health == "starting" ? " (health: starting)" : " (\(c.health))")
        case "exited": status = "Exited (\(c.exitCode)) 12 seconds ago"
        case "restarting": status = "Restarting (\(c.exitCode)) 3 seconds ago"
        default: status = "Created"
        }
        let object: [String: Any] = [
            "Command": "\"docker-entrypoint.s…\"",
            "CreatedAt": "2025-06-02 09:14:03 +0000 UTC",
            "ExitCode": c.exitCode,
            "Health": c.health,
            "ID": String(repeating: String(c.service.count, radix: 16), count: 64).prefix(64),
            "Image": c.image,
            "Labels":
                "com.docker.compose.config-hash=\(c.configHash),com.docker.compose.container-number=1,com.docker.compose.depends_on=,"
                + "com.docker.compose.image=sha256:5e7abcd0,com.docker.compose.oneoff=False,com.docker.compose.project=\(project),"
                + "com.docker.compose.service=\(c.service),com.docker.compose.version=2.40.3",
            "LocalVolumes": "0",
            "Mounts": "",
            "Name": name,
            "Names": name,
            "Networks": "\(project)_backend,\(project)_egress",
            "Ports": c.ports.filter { $0.published != 0 }.map { "\($0.url):\($0.published)->\($0.target)/tcp" }.joined(
                separator: ", "),
            "Project": project,
            "Publishers": c.ports.map {
                ["URL": $0.url, "TargetPort": $0.target, "PublishedPort": $0.published, "Protocol": "tcp"]
                    as [String: Any]
            },
            "RunningFor": "2 minutes ago",
            "Service": c.service,
            "Size": "0B",
            "State": c.state,
            "Status": status,
        ]
        let data = try! JSONSerialization.data(
            withJSONObject: object.mapValues { ($0 as? Substring).map(String.init) ?? $0 },
            options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
