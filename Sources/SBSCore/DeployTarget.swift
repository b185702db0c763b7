/// Where the stack runs (answers `target`): one Docker engine with `docker compose`, or a Docker Swarm with
/// `docker stack deploy`, whose nodes may be several servers.
public enum DeployTarget: String, Codable, Sendable, CaseIterable {
    case compose, swarm

    /// The stack file in the deploy folder: `docker-compose.yml`, or `docker-stack.yml` on a swarm.
    public var stackFile: String { self == .swarm ? "docker-stack.yml" : "docker-compose.yml" }
}

/// The answers' `swarm:` section, read for `target: swarm` only.
public struct SwarmSettings: Codable, Hashable, Sendable {
    /// Tasks of app-api and app-web (`swarm.replicas.api`, `swarm.replicas.web`). The other services run one task:
    /// PostgreSQL, Ollama's model store, Prometheus and Alertmanager keep state that one process writes.
    public var apiReplicas: Int
    public var webReplicas: Int
    /// The address `docker swarm init` advertises to other nodes (`swarm.advertise_addr`); nil: the engine picks
    /// it, which it refuses to do on a host with several addresses.
    public var advertiseAddress: String?

    public static let replicaRange = 1...20

    /// More than one app-api task: each keeps its own pool of connections, so PgBouncer (app-pooler) stands between
    /// them and app-db, and app-db's connections stay within its `max_connections` however many tasks run.
    public var runsPooler: Bool { apiReplicas > 1 }

    /// The node labels that place the stack's services, each a `node.labels.NAME == true` constraint: app-db,
    /// nginx (where the certificate is), Ollama, the monitoring.
    public static let placementLabels = ["sbs.db", "sbs.ingress", "sbs.monitoring", "sbs.ollama"]

    public init(apiReplicas: Int = 1, webReplicas: Int = 1, advertiseAddress: String? = nil) {
        self.apiReplicas = apiReplicas
        self.webReplicas = webReplicas
        self.advertiseAddress = advertiseAddress
    }
}
