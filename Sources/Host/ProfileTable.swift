import SBSCore
import YAML

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
            throw UserError(
                "The profiles table does not parse: \(reader.problems.map(\.description).joined(separator: "; "))",
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
            throw UserError(
                "The profiles table's memory floors are out of order: \(lower.name.rawValue) ≥ \(higher.name.rawValue)."
            )
        }
        self.profiles = sorted
    }

    public func rule(_ name: ProfileName) -> ProfileRule? { profiles.first { $0.name == name } }
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
        let fields = reader.fields(
            node, path: path,
            keys: [
                "name", "nominal", "memory_floor_mib", "disk_required_gib",
                "api_workers", "postgres", "memory_limits", "monitoring", "ollama",
            ])
        let name = fields.read("name") { reader.choice($0, path: $1, ProfileName.self) }
        let nominal = fields.string("nominal")
        let memoryFloor = fields.int("memory_floor_mib")
        let diskRequired = fields.int("disk_required_gib")
        let workers = fields.read("api_workers") { WorkerRule($0, reader: reader, path: $1) }
        let postgres = fields.read("postgres") { PostgresRule($0, reader: reader, path: $1) }
        let limits = fields.read("memory_limits") { node, path in
            let services = reader.fields(node, path: path, keys: StackService.allCases.map(\.rawValue))
            return StackService.allCases.reduce(into: [String: MemoryLimitRule]()) { limits, service in
                limits[service.rawValue] = services.read(service.rawValue) {
                    MemoryLimitRule($0, reader: reader, path: $1)
                }
            }
        }
        let monitoring = fields.read("monitoring") { MonitoringRule($0, reader: reader, path: $1) }
        let ollama = fields.read("ollama") { OllamaRule($0, reader: reader, path: $1) }
        guard let name, let nominal, let memoryFloor, let diskRequired, let workers, let postgres, let limits,
            let monitoring, let ollama
        else { return nil }
        self.init(
            name: name, nominal: nominal, memoryFloorMiB: memoryFloor, diskRequiredGiB: diskRequired,
            apiWorkers: workers, postgres: postgres, memoryLimits: limits, monitoring: monitoring, ollama: ollama)
    }
}

extension ProfileRule.WorkerRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["per_cpu", "min", "max"])
        let perCPU = fields.number("per_cpu")
        let min = fields.int("min")
        let max = fields.int("max")
        guard let perCPU, let min, let max else { return nil }
        self.init(perCPU: perCPU, min: min, max: max)
    }
}

extension ProfileRule.Range {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["min", "max"])
        let min = fields.int("min")
        let max = fields.int("max")
        guard let min, let max else { return nil }
        self.init(min: min, max: max)
    }
}

extension ProfileRule.ShareRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["share", "min_mib", "max_mib"])
        let share = fields.number("share")
        let minMiB = fields.int("min_mib")
        let maxMiB = fields.int("max_mib")
        guard let share, let minMiB, let maxMiB else { return nil }
        self.init(share: share, minMiB: minMiB, maxMiB: maxMiB)
    }
}

extension ProfileRule.PostgresRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(
            node, path: path,
            keys: [
                "max_connections", "shared_buffers_share",
                "effective_cache_size_share", "work_mem_mib", "maintenance_work_mem",
            ])
        let maxConnections = fields.int("max_connections")
        let sharedBuffers = fields.number("shared_buffers_share")
        let effectiveCacheSize = fields.number("effective_cache_size_share")
        let workMem = fields.read("work_mem_mib") { ProfileRule.Range($0, reader: reader, path: $1) }
        let maintenanceWorkMem = fields.read("maintenance_work_mem") {
            ProfileRule.ShareRule($0, reader: reader, path: $1)
        }
        guard let maxConnections, let sharedBuffers, let effectiveCacheSize, let workMem, let maintenanceWorkMem else {
            return nil
        }
        self.init(
            maxConnections: maxConnections, sharedBuffersShare: sharedBuffers,
            effectiveCacheSizeShare: effectiveCacheSize,
            workMemMiB: workMem, maintenanceWorkMem: maintenanceWorkMem)
    }
}

extension ProfileRule.MonitoringRule {
    init?(_ node: YAMLNode, reader: YAMLReader, path: String) {
        let fields = reader.fields(node, path: path, keys: ["level", "retention_days", "scrape_interval_seconds"])
        let level = fields.read("level") { reader.choice($0, path: $1, MonitoringLevel.self) }
        let retentionDays = fields.int("retention_days")
        let scrapeInterval = fields.int("scrape_interval_seconds")
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
