import SBSCore
import YAML

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
        if text == "auto" { self = .auto; return }
        guard let name = ProfileName(rawValue: text) else {
            throw UserError("'\(text.debugSafe)' is not a profile.", remedy: "Use auto, minimum, recommended or optimal.")
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
        do { self = try ProfileRequest(text) } catch { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description)) }
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
    /// Container healthchecks and rotated logs; no Prometheus or Grafana.
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

    public init(sharedBuffersMiB: Int, effectiveCacheSizeMiB: Int, workMemMiB: Int, maintenanceWorkMemMiB: Int, maxConnections: Int) {
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
    /// Resolved features: the NVIDIA device reservation on Ollama; Prometheus + Grafana.
    public var gpu: Bool
    public var monitoringEnabled: Bool
    /// Compose profiles to enable, sorted (`COMPOSE_PROFILES`).
    public var composeProfiles: [String]
    public var diskRequiredGiB: Int
    /// Why: one sentence per decision, for `sbs detect` and the log.
    public var reasons: [String]

    public func memoryLimitMiB(for service: StackService) -> Int { memoryLimitsMiB[service.rawValue] ?? 256 }
}

/// The profiles table, `assets/profiles.yaml`.
public struct ProfileTable: Sendable, Equatable {
    public let profiles: [ProfileRule]

    /// Parses the table.
    /// - Throws: `UserError` when the YAML does not parse or a field is missing, unknown or of the wrong kind (each
    ///   such problem with its line and column), or the table lacks a profile, names an invalid model, or has its
    ///   floors out of order.
    public init(yaml: String) throws(UserError) {
        let reader = YAMLReader(file: "assets/profiles.yaml")
        let file = reader.parse(yaml).flatMap { ProfilesFile($0, reader: reader) }
        guard let file, reader.problems.isEmpty else {
            throw UserError("The profiles table does not parse: \(reader.problems.map(\.description).joined(separator: "; "))",
                            remedy: "Fix the file, or drop --assets to use the table built into sbs.")
        }
        guard file.version == 1 else {
            throw UserError("The profiles table has version \(file.version); this sbs reads version 1.")
        }
        for name in ProfileName.allCases where !file.profiles.contains(where: { $0.name == name }) {
            throw UserError("The profiles table has no '\(name.rawValue)' profile.")
        }
        for profile in file.profiles {
            for model in profile.ollama.models.flatMap(\.pull) {
                do { _ = try SafeToken(model, what: "Ollama model name") } catch {
                    throw UserError("The profile '\(profile.name.rawValue)' names an invalid model: \(error.message)")
                }
            }
        }
        let sorted = file.profiles.sorted { $0.name < $1.name }
        for (lower, higher) in zip(sorted, sorted.dropFirst()) where lower.memoryFloorMiB >= higher.memoryFloorMiB {
            throw UserError("The profiles table's memory floors are out of order: \(lower.name.rawValue) ≥ \(higher.name.rawValue).")
        }
        self.profiles = sorted
    }

    public func rule(_ name: ProfileName) -> ProfileRule? { profiles.first { $0.name == name } }

    /// Resolves `request` for the host.
    /// - Throws: `UserError` when `auto` finds the host below the minimum profile's floor (the refusal says how to
    ///   override), or when the GPU feature is forced on without a usable GPU.
    public func choose(for facts: HostFacts, request: ProfileChoiceRequest) throws(UserError) -> ResolvedProfile {
        let memory = facts.memory.effectiveMiB
        var reasons: [String] = []
        if let limit = facts.memory.cgroupLimitMiB {
            reasons.append("Usable memory \(Self.gib(memory)): MemTotal is \(Self.gib(facts.memory.totalMiB)) but a cgroup limits this system to \(Self.gib(limit)).")
        } else {
            reasons.append("Usable memory \(Self.gib(memory)) (MemTotal), \(facts.cpu.effective) CPU\(facts.cpu.effective == 1 ? "" : "s").")
        }

        let rule: ProfileRule
        switch request.profile {
        case .auto:
            guard let fitting = profiles.last(where: { memory >= $0.memoryFloorMiB }) else {
                let minimum = profiles[0]
                throw UserError(
                    "This host has \(Self.gib(memory)) of usable memory; the smallest profile (\(minimum.name.rawValue), \(minimum.nominal)) needs at least \(Self.gib(minimum.memoryFloorMiB)).",
                    remedy: "Give the machine more memory\(facts.memory.cgroupLimitMiB != nil ? " (or raise the container's memory limit)" : ""), or set `profile: minimum` in the answers file to install anyway, at the risk of running out of memory.")
            }
            rule = fitting
            if let next = profiles.first(where: { $0.memoryFloorMiB > memory }) {
                reasons.append("Profile \(rule.name.rawValue) (\(rule.nominal)): the host meets its floor of \(Self.gib(rule.memoryFloorMiB)) but not \(next.name.rawValue)'s \(Self.gib(next.memoryFloorMiB)).")
            } else {
                reasons.append("Profile \(rule.name.rawValue) (\(rule.nominal)): the host meets its floor of \(Self.gib(rule.memoryFloorMiB)), the largest profile.")
            }
        case .named(let name):
            guard let named = self.rule(name) else { throw UserError("The profiles table has no '\(name.rawValue)' profile.") }
            rule = named
            if memory < named.memoryFloorMiB {
                reasons.append("Profile \(name.rawValue) was chosen in the answers although the host has \(Self.gib(memory)), below its floor of \(Self.gib(named.memoryFloorMiB)): the limits below are scaled to the host and services may run out of memory.")
            } else {
                reasons.append("Profile \(name.rawValue) was chosen in the answers.")
            }
        }

        // GPU and Ollama.
        let gpuMemory = facts.gpu.usable ? (facts.gpu.memoryMiB ?? 0) : 0
        var gpu: Bool
        switch request.gpu {
        case .off:
            gpu = false
            if facts.gpu.usable { reasons.append("GPU: turned off in the answers; Ollama (if it runs) uses the CPU.") }
        case .on:
            guard facts.gpu.usable else {
                throw UserError("The answers turn the GPU feature on, but this host has no usable GPU. \(facts.gpu.reason)",
                                remedy: "Fix the NVIDIA driver and container toolkit, or set `features.gpu: auto` (or false).")
            }
            gpu = true
        case .auto:
            gpu = facts.gpu.usable
            reasons.append("GPU: \(facts.gpu.reason)")
        }
        let ollamaGPUMemory = gpu ? gpuMemory : 0
        let runsOllama = rule.ollama.run || (gpu && rule.ollama.runWithGPUMemoryMiBAtLeast > 0 && ollamaGPUMemory >= rule.ollama.runWithGPUMemoryMiBAtLeast)
        var models: [String] = []
        if runsOllama {
            let tier = rule.ollama.models.first { ollamaGPUMemory >= $0.gpuMemoryMiBAtLeast && ($0.gpuMemoryMiBAtLeast == 0 || gpu) }
            models = tier?.pull ?? []
            if !rule.ollama.run {
                reasons.append("Ollama: the \(rule.name.rawValue) profile runs no local models, but the GPU's \(Self.gib(ollamaGPUMemory)) hold \(models.joined(separator: ", ")).")
            } else if gpu {
                reasons.append("Ollama: models \(models.joined(separator: ", ")) fit the GPU's \(Self.gib(ollamaGPUMemory)).")
            } else {
                reasons.append("Ollama: no GPU in use, so CPU-sized models: \(models.joined(separator: ", ")).")
            }
        } else {
            reasons.append("Ollama: not run locally on the \(rule.name.rawValue) profile; AI requests go to the Anthropic API.")
            if gpu { reasons.append("GPU: unused, since no local models run.") }
            gpu = false
        }

        // Monitoring.
        var monitoring = MonitoringSettings(level: rule.monitoring.level, retentionDays: rule.monitoring.retentionDays,
                                            scrapeIntervalSeconds: rule.monitoring.scrapeIntervalSeconds)
        let monitoringEnabled: Bool
        switch request.monitoring {
        case .auto:
            monitoringEnabled = monitoring.level != .basic
            reasons.append(monitoringEnabled
                ? "Monitoring: \(monitoring.level.rawValue) (Prometheus + Grafana, \(monitoring.retentionDays) days of metrics)."
                : "Monitoring: basic (healthchecks and rotated logs; Prometheus and Grafana stay off).")
        case .on:
            monitoringEnabled = true
            if monitoring.level == .basic { monitoring.level = .full }
            reasons.append("Monitoring: turned on in the answers (Prometheus + Grafana).")
        case .off:
            monitoringEnabled = false
            reasons.append("Monitoring: turned off in the answers.")
        }

        // Numbers.
        var limits: [String: Int] = [:]
        for service in StackService.allCases {
            guard let limit = rule.memoryLimits[service.rawValue] else { continue }
            limits[service.rawValue] = limit.apply(to: memory)
        }
        let dbLimit = limits[StackService.appDB.rawValue] ?? 1024
        let p = rule.postgres
        let sharedBuffers = Int(Double(dbLimit) * p.sharedBuffersShare)
        let workMem = min(max((dbLimit - sharedBuffers) / (p.maxConnections * 3), p.workMemMiB.min), p.workMemMiB.max)
        let postgres = PostgresSettings(
            sharedBuffersMiB: sharedBuffers,
            effectiveCacheSizeMiB: Int(Double(dbLimit) * p.effectiveCacheSizeShare),
            workMemMiB: workMem,
            maintenanceWorkMemMiB: min(max(Int(Double(dbLimit) * p.maintenanceWorkMem.share), p.maintenanceWorkMem.minMiB), p.maintenanceWorkMem.maxMiB),
            maxConnections: p.maxConnections)
        let cpus = facts.cpu.effective
        let workers = min(max(Int(Double(cpus) * rule.apiWorkers.perCPU), rule.apiWorkers.min), rule.apiWorkers.max)
        reasons.append("API workers: \(workers) for \(cpus) CPU\(cpus == 1 ? "" : "s"); PostgreSQL shared_buffers \(postgres.sharedBuffersMiB) MiB of app-db's \(dbLimit) MiB.")

        var composeProfiles: [String] = []
        if runsOllama { composeProfiles.append("ollama") }
        if gpu { composeProfiles.append("gpu") }
        if monitoringEnabled { composeProfiles.append("monitoring") }
        let disk = rule.diskRequiredGiB
        return ResolvedProfile(
            name: rule.name, explicit: request.profile != .auto, memoryBasisMiB: memory, cpus: cpus,
            postgres: postgres, apiWorkers: workers, memoryLimitsMiB: limits, monitoring: monitoring,
            runsOllama: runsOllama, ollamaModels: models, gpu: gpu, monitoringEnabled: monitoringEnabled,
            composeProfiles: composeProfiles.sorted(), diskRequiredGiB: disk, reasons: reasons)
    }

    static func gib(_ mib: Int) -> String {
        let tenths = (mib * 10 + 512) / 1024
        return tenths % 10 == 0 ? "\(tenths / 10) GiB" : "\(tenths / 10).\(tenths % 10) GiB"
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

/// The table read field by field through YAMLReader, so that each problem (a missing or unknown key, a value of the
/// wrong kind) is reported with its line and column.
struct ProfilesFile {
    var version: Int
    var profiles: [ProfileRule]

    init?(_ node: YAMLNode, reader: YAMLReader) {
        let fields = reader.fields(node, path: "", keys: ["version", "profiles"])
        let version = fields.int("version")
        let profiles = fields.read("profiles") { node, path in
            reader.list(node, path: path).map { list in
                list.enumerated().compactMap { ProfileRule($1, reader: reader, path: "\(path)[\($0)]") }
            }
        }
        guard let version, let profiles else { return nil }
        self.version = version
        self.profiles = profiles
    }
}

extension ProfileRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["name", "nominal", "memory_floor_mib", "disk_required_gib",
                                                            "api_workers", "postgres", "memory_limits", "monitoring", "ollama"])
        let name = fields.read("name") { reader.choice($0, path: $1, ProfileName.self) }
        let nominal = fields.string("nominal")
        let memoryFloor = fields.int("memory_floor_mib")
        let diskRequired = fields.int("disk_required_gib")
        let workers = fields.read("api_workers") { WorkerRule($0, reader: reader, path: $1) }
        let postgres = fields.read("postgres") { PostgresRule($0, reader: reader, path: $1) }
        let limits = fields.read("memory_limits") { node, path in
            let services = reader.fields(node, path: path, keys: StackService.allCases.map(\.rawValue))
            return StackService.allCases.reduce(into: [String: MemoryLimitRule]()) { limits, service in
                limits[service.rawValue] = services.read(service.rawValue) { MemoryLimitRule($0, reader: reader, path: $1) }
            }
        }
        let monitoring = fields.read("monitoring") { MonitoringRule($0, reader: reader, path: $1) }
        let ollama = fields.read("ollama") { OllamaRule($0, reader: reader, path: $1) }
        guard let name, let nominal, let memoryFloor, let diskRequired, let workers, let postgres, let limits,
              let monitoring, let ollama else { return nil }
        self.init(name: name, nominal: nominal, memoryFloorMiB: memoryFloor, diskRequiredGiB: diskRequired,
                  apiWorkers: workers, postgres: postgres, memoryLimits: limits, monitoring: monitoring, ollama: ollama)
    }
}

extension ProfileRule.WorkerRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["per_cpu", "min", "max"])
        let perCPU = fields.number("per_cpu"), min = fields.int("min"), max = fields.int("max")
        guard let perCPU, let min, let max else { return nil }
        self.init(perCPU: perCPU, min: min, max: max)
    }
}

extension ProfileRule.Range {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["min", "max"])
        let min = fields.int("min"), max = fields.int("max")
        guard let min, let max else { return nil }
        self.init(min: min, max: max)
    }
}

extension ProfileRule.ShareRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["share", "min_mib", "max_mib"])
        let share = fields.number("share"), minMiB = fields.int("min_mib"), maxMiB = fields.int("max_mib")
        guard let share, let minMiB, let maxMiB else { return nil }
        self.init(share: share, minMiB: minMiB, maxMiB: maxMiB)
    }
}

extension ProfileRule.PostgresRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["max_connections", "shared_buffers_share",
                                                            "effective_cache_size_share", "work_mem_mib", "maintenance_work_mem"])
        let maxConnections = fields.int("max_connections")
        let sharedBuffers = fields.number("shared_buffers_share")
        let effectiveCacheSize = fields.number("effective_cache_size_share")
        let workMem = fields.read("work_mem_mib") { ProfileRule.Range($0, reader: reader, path: $1) }
        let maintenanceWorkMem = fields.read("maintenance_work_mem") { ProfileRule.ShareRule($0, reader: reader, path: $1) }
        guard let maxConnections, let sharedBuffers, let effectiveCacheSize, let workMem, let maintenanceWorkMem else { return nil }
        self.init(maxConnections: maxConnections, sharedBuffersShare: sharedBuffers, effectiveCacheSizeShare: effectiveCacheSize,
                  workMemMiB: workMem, maintenanceWorkMem: maintenanceWorkMem)
    }
}

extension ProfileRule.MonitoringRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["level", "retention_days", "scrape_interval_seconds"])
        let level = fields.read("level") { reader.choice($0, path: $1, MonitoringLevel.self) }
        let retentionDays = fields.int("retention_days"), scrapeInterval = fields.int("scrape_interval_seconds")
        guard let level, let retentionDays, let scrapeInterval else { return nil }
        self.init(level: level, retentionDays: retentionDays, scrapeIntervalSeconds: scrapeInterval)
    }
}

extension ProfileRule.OllamaRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["run", "run_with_gpu_memory_mib_at_least", "models"])
        let run = fields.bool("run")
        let gpuMemory = fields.int("run_with_gpu_memory_mib_at_least")
        let models = fields.read("models") { node, path in
            reader.list(node, path: path).map { list in
                list.enumerated().compactMap { ProfileRule.ModelTier($1, reader: reader, path: "\(path)[\($0)]") }
            }
        }
        guard let run, let gpuMemory, let models else { return nil }
        self.init(run: run, runWithGPUMemoryMiBAtLeast: gpuMemory, models: models)
    }
}

extension ProfileRule.ModelTier {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["gpu_memory_mib_at_least", "pull"])
        let gpuMemory = fields.int("gpu_memory_mib_at_least")
        let pull = fields.read("pull") { reader.strings($0, path: $1).map(\.0) }
        guard let gpuMemory, let pull else { return nil }
        self.init(gpuMemoryMiBAtLeast: gpuMemory, pull: pull)
    }
}
