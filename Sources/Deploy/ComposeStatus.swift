import FoundationEssentials
import SBSCore

/// One container as `docker compose ps --format json` reports it.
public struct ComposeContainer: Codable, Sendable, Hashable {
    public var service: String
    public var name: String
    /// `running`, `exited`, `restarting` …
    public var state: String
    /// `healthy`, `unhealthy`, `starting`, or empty when the service has no healthcheck.
    public var health: String
    public var exitCode: Int?
    /// Compose's hash of the service's settings when the container was created (label
    /// `com.docker.compose.config-hash`); `docker compose config --hash` gives the current one.
    public var configHash: String?

    /// The container's ports: published ones and, with `publishedPort` 0, those only exposed. Empty when compose
    /// did not say (older releases, or `null`).
    public var publishers: [Publisher]

    /// One port of a container as `docker compose ps --format json` reports it (`Publishers`).
    public struct Publisher: Codable, Sendable, Hashable {
        /// The host address it is published on (`0.0.0.0`, `::`, `127.0.0.1` …); empty when not published.
        public var url: String
        public var targetPort: Int
        /// 0 when the port is exposed but not published.
        public var publishedPort: Int
        public var `protocol`: String

        enum CodingKeys: String, CodingKey {
            case url = "URL", targetPort = "TargetPort", publishedPort = "PublishedPort", `protocol` = "Protocol"
        }

        public init(url: String, targetPort: Int, publishedPort: Int, protocol: String = "tcp") {
            self.url = url
            self.targetPort = targetPort
            self.publishedPort = publishedPort
            self.protocol = `protocol`
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            url = try container.decodeIfPresent(String.self, forKey: .url) ?? ""
            targetPort = try container.decodeIfPresent(Int.self, forKey: .targetPort) ?? 0
            publishedPort = try container.decodeIfPresent(Int.self, forKey: .publishedPort) ?? 0
            `protocol` = try container.decodeIfPresent(String.self, forKey: .protocol) ?? "tcp"
        }

        /// Published on a loopback address only (reachable from this host, not from the network).
        public var isLoopback: Bool {
            url.hasPrefix("127.") || url == "::1" || url == "[::1]" || url == "localhost"
        }
    }

    enum CodingKeys: String, CodingKey {
        case service = "Service", name = "Name", state = "State", health = "Health", exitCode = "ExitCode"
        case publishers = "Publishers", labels = "Labels"
    }

    public init(
        service: String, name: String, state: String, health: String, exitCode: Int? = nil,
        publishers: [Publisher] = [], configHash: String? = nil
    ) {
        self.service = service
        self.name = name
        self.state = state
        self.health = health
        self.exitCode = exitCode
        self.publishers = publishers
        self.configHash = configHash
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(service, forKey: .service)
        try container.encode(name, forKey: .name)
        try container.encode(state, forKey: .state)
        try container.encode(health, forKey: .health)
        try container.encodeIfPresent(exitCode, forKey: .exitCode)
        try container.encode(publishers, forKey: .publishers)
        try container.encodeIfPresent(configHash.map { "com.docker.compose.config-hash=" + $0 }, forKey: .labels)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        service = try container.decode(String.self, forKey: .service)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? service
        state = try container.decodeIfPresent(String.self, forKey: .state) ?? ""
        health = try container.decodeIfPresent(String.self, forKey: .health) ?? ""
        exitCode = try container.decodeIfPresent(Int.self, forKey: .exitCode)
        publishers = try container.decodeIfPresent([Publisher].self, forKey: .publishers) ?? []
        // "k=v,k=v" (values may hold commas: depends_on lists); the hash is hex, so it ends at the first comma.
        let labels = (try? container.decodeIfPresent(String.self, forKey: .labels)) ?? nil
        let key = "com.docker.compose.config-hash="
        configHash = labels.flatMap { text in
            text.firstRange(of: key).map { String(text[$0.upperBound...].prefix(while: { $0.isHexDigit })) }
        }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Running, and healthy when it has a healthcheck.
    public var isReady: Bool { state == "running" && (health.isEmpty || health == "healthy") }

    /// `docker compose ps --format json` output: one JSON object per line (compose 2.21 and later) or one JSON
    /// array (earlier v2 releases). Both are read.
    /// - Throws: `UserError` quoting the start of what could not be read.
    public static func parse(_ text: String) throws(UserError) -> [ComposeContainer] {
        let trimmed = text.trimmed
        if trimmed.isEmpty { return [] }
        let decoder = JSONDecoder()
        do {
            if trimmed.hasPrefix("[") { return try decoder.decode([ComposeContainer].self, from: Data(trimmed.utf8)) }
            return try trimmed.split(separator: "\n").filter { !$0.trimmed.isEmpty }.map { line in
                try decoder.decode(ComposeContainer.self, from: Data(line.utf8))
            }
        } catch {
            throw UserError(
                "`docker compose ps --format json` printed something sbs cannot read: \(String(trimmed.prefix(120)).debugSafe)",
                remedy: "Check `docker compose version` (compose v2 is needed).")
        }
    }
}
