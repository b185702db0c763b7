import SBSCore

/// The services of the stack, by their compose names.
public enum StackService: String, Codable, Sendable, CaseIterable, Comparable {
    case appDB = "app-db"
    case appAuth = "app-auth"
    case appAPI = "app-api"
    case appWeb = "app-web"
    case appKong = "app-kong"
    case nginx
    case ollama
    /// Grafana (the seed's name for it).
    case monitoring
    case prometheus
    /// Where Prometheus's alerts go, and from there to a person (answers `alerts:`).
    case alertmanager
    /// The host's CPU, memory and filesystems, and sbs's own metrics (node_exporter's textfile collector).
    case nodeExporter = "node-exporter"
    /// app-db's connections, deadlocks and transactions, through a read-only monitoring role.
    case postgresExporter = "postgres-exporter"
    /// The site probed from inside the server: status, latency and the certificate's expiry of every name.
    case blackboxExporter = "blackbox-exporter"
    /// PgBouncer between app-api and app-db, on a swarm whose app-api runs more than one task
    /// (`SwarmSettings.runsPooler`): the tasks' pools together stay within app-db's connections.
    case appPooler = "app-pooler"

    /// Runs only with monitoring (the compose profile `monitoring`).
    public var isMonitoring: Bool {
        switch self {
        case .monitoring, .prometheus, .alertmanager, .nodeExporter, .postgresExporter, .blackboxExporter: return true
        default: return false
        }
    }

    public static func < (a: StackService, b: StackService) -> Bool { a.rawValue < b.rawValue }
}

public enum ProfileName: String, Codable, Sendable, CaseIterable, Comparable {
    case minimum, recommended, optimal

    var rank: Int { ProfileName.allCases.firstIndex(of: self) ?? 0 }
    public static func < (a: ProfileName, b: ProfileName) -> Bool { a.rank < b.rank }
}

/// What the answers ask for: `auto` or a profile by name (an explicit name is also the override below the minimum).
public enum ProfileRequest: Sendable, Hashable, Codable, CaseIterable, RawRepresentable {
    case auto
    case named(ProfileName)

    /// Parses `auto|minimum|recommended|optimal`.
    /// - Throws: `UserError` naming the accepted words.
    public init(_ text: String) throws(UserError) {
        if text == "auto" {
            self = .auto
            return
        }
        guard let name = ProfileName(rawValue: text) else {
            throw UserError(
                "'\(text.debugSafe)' is not a profile.", remedy: "Use auto, minimum, recommended or optimal.")
        }
        self = .named(name)
    }

    public var description: String { rawValue }

    public var rawValue: String {
        switch self {
        case .auto: return "auto"
        case .named(let name): return name.rawValue
        }
    }

    public init?(rawValue: String) {
        guard let request = try? ProfileRequest(rawValue) else { return nil }
        self = request
    }

    public static let allCases: [ProfileRequest] = [.auto] + ProfileName.allCases.map { .named($0) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try ProfileRequest(text) } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A feature answer (`features.gpu`, `features.monitoring`, `features.backups`): `auto` lets the host and profile
/// decide; `true` and `false` as the answers file writes them.
public enum FeatureSwitch: String, Codable, Sendable, Equatable, CaseIterable {
    case auto, on = "true", off = "false"
}

/// What the installer asks the chooser for (mapped from the answers file).
public struct ProfileChoiceRequest: Sendable, Equatable {
    public var profile: ProfileRequest
    public var gpu: FeatureSwitch
    public var monitoring: FeatureSwitch

    public init(profile: ProfileRequest = .auto, gpu: FeatureSwitch = .auto, monitoring: FeatureSwitch = .auto) {
        self.profile = profile
        self.gpu = gpu
        self.monitoring = monitoring
    }
}

public enum MonitoringLevel: String, Codable, Sendable, CaseIterable {
    /// Prometheus, its exporters and Alertmanager: the alerts, without Grafana's dashboards.
    case basic
    /// Prometheus + Grafana.
    case full
    /// Prometheus + Grafana, finer scrapes, longer retention.
    case advanced
}

public struct PostgresSettings: Codable, Sendable, Hashable {
    public var sharedBuffersMiB: Int
    public var effectiveCacheSizeMiB: Int
    public var workMemMiB: Int
    public var maintenanceWorkMemMiB: Int
    public var maxConnections: Int

    public init(
        sharedBuffersMiB: Int, effectiveCacheSizeMiB: Int, workMemMiB: Int, maintenanceWorkMemMiB: Int,
        maxConnections: Int
    ) {
        self.sharedBuffersMiB = sharedBuffersMiB
        self.effectiveCacheSizeMiB = effectiveCacheSizeMiB
        self.workMemMiB = workMemMiB
        self.maintenanceWorkMemMiB = maintenanceWorkMemMiB
        self.maxConnections = maxConnections
    }
}

public struct MonitoringSettings: Codable, Sendable, Hashable {
    public var level: MonitoringLevel
    public var retentionDays: Int
    public var scrapeIntervalSeconds: Int

    public init(level: MonitoringLevel, retentionDays: Int, scrapeIntervalSeconds: Int) {
        self.level = level
        self.retentionDays = retentionDays
        self.scrapeIntervalSeconds = scrapeIntervalSeconds
    }
}

/// A profile applied to a host: every number concrete.
public struct ResolvedProfile: Codable, Sendable, Hashable {
    public var name: ProfileName
    /// True when the answers named the profile (rather than `auto`).
    public var explicit: Bool
    /// The usable memory the numbers were derived from.
    public var memoryBasisMiB: Int
    public var cpus: Int
    public var postgres: PostgresSettings
    public var apiWorkers: Int
    /// Container memory limits by compose service name.
    public var memoryLimitsMiB: [String: Int]
    public var monitoring: MonitoringSettings
    /// Local Ollama runs (compose profile `ollama`).
    public var runsOllama: Bool
    public var ollamaModels: [String]
    /// Resolved features: the NVIDIA device reservation on Ollama; Prometheus, its exporters and Alertmanager (and
    /// Grafana above the basic level: `runsGrafana`).
    public var gpu: Bool
    public var monitoringEnabled: Bool
    /// Compose profiles to enable, sorted (`COMPOSE_PROFILES`).
    public var composeProfiles: [String]
    public var diskRequiredGiB: Int
    /// Why: one sentence per decision, for `sbs detect` and the log.
    public var reasons: [String]

    public func memoryLimitMiB(for service: StackService) -> Int { memoryLimitsMiB[service.rawValue] ?? 256 }

    /// Grafana runs (compose profile `grafana`): monitoring on, above the basic level.
    public var runsGrafana: Bool { monitoringEnabled && monitoring.level != .basic }

    /// Whether `service` runs in this profile: Ollama when it runs local models, the monitoring's services with
    /// monitoring (Grafana above the basic level), the pooler never (the deploy target decides it), every other
    /// service always.
    public func runs(_ service: StackService) -> Bool {
        switch service {
        case .ollama: return runsOllama
        case .monitoring: return runsGrafana
        case .appPooler: return false
        default: return !service.isMonitoring || monitoringEnabled
        }
    }
}

/// One profile as the table states it (rules, not yet applied to a host).
public struct ProfileRule: Sendable, Equatable {
    public var name: ProfileName
    public var nominal: String
    public var memoryFloorMiB: Int
    public var diskRequiredGiB: Int
    public var apiWorkers: WorkerRule
    public var postgres: PostgresRule
    public var memoryLimits: [String: MemoryLimitRule]
    public var monitoring: MonitoringRule
    public var ollama: OllamaRule

    public struct WorkerRule: Sendable, Equatable {
        public var perCPU: Double
        public var min: Int
        public var max: Int
    }

    public struct Range: Sendable, Equatable {
        public var min: Int
        public var max: Int
    }

    /// A share of an amount of memory, clamped to [minMiB, maxMiB].
    public struct ShareRule: Sendable, Equatable {
        public var share: Double
        public var minMiB: Int
        public var maxMiB: Int

        /// As a container's memory limit: share × memory, clamped, rounded down to 64 MiB.
        func apply(to memoryMiB: Int) -> Int {
            let raw = min(max(Int(Double(memoryMiB) * share), minMiB), maxMiB)
            return max(raw / 64 * 64, 64)
        }
    }

    public struct PostgresRule: Sendable, Equatable {
        public var maxConnections: Int
        public var sharedBuffersShare: Double
        public var effectiveCacheSizeShare: Double
        public var workMemMiB: Range
        public var maintenanceWorkMem: ShareRule
    }

    /// A service's memory limit: a share of the usable memory.
    public typealias MemoryLimitRule = ShareRule

    public struct MonitoringRule: Sendable, Equatable {
        public var level: MonitoringLevel
        public var retentionDays: Int
        public var scrapeIntervalSeconds: Int
    }

    public struct OllamaRule: Sendable, Equatable {
        public var run: Bool
        public var runWithGPUMemoryMiBAtLeast: Int
        public var models: [ModelTier]
    }

    public struct ModelTier: Sendable, Equatable {
        public var gpuMemoryMiBAtLeast: Int
        public var pull: [String]
    }
}
