/// What sbs learned about the machine. Codable for `sbs detect --json` and the state file.
public struct HostFacts: Codable, Sendable, Hashable {
    public var memory: MemoryFacts
    public var cpu: CPUFacts
    public var gpu: GPUFacts
    public var os: OSFacts
    /// Machine architecture as the kernel names it (`x86_64`, `aarch64`).
    public var architecture: String
    public var docker: DockerFacts
    /// Free space for the deploy folder; drifts by itself, so it never enters `stableFacts`.
    public var disk: DiskFacts?

    public init(
        memory: MemoryFacts, cpu: CPUFacts, gpu: GPUFacts, os: OSFacts, architecture: String,
        docker: DockerFacts, disk: DiskFacts?
    ) {
        self.memory = memory
        self.cpu = cpu
        self.gpu = gpu
        self.os = os
        self.architecture = architecture
        self.docker = docker
        self.disk = disk
    }

    /// Facts that stay the same across runs on the same machine (no free memory, free disk, time or tool versions
    /// that an install step itself changes), flat for the step graph's fingerprints.
    public var stableFacts: [String: String] {
        var facts: [String: String] = [
            "memory.total_mib": String(memory.totalMiB),
            "memory.effective_mib": String(memory.effectiveMiB),
            "memory.cgroup_limit_mib": memory.cgroupLimitMiB.map(String.init) ?? "none",
            "cpu.online": String(cpu.online),
            "cpu.effective": String(cpu.effective),
            "gpu.usable": gpu.usable ? "true" : "false",
            "gpu.vendor": gpu.vendor.rawValue,
            "gpu.name": gpu.name ?? "",
            "gpu.memory_mib": gpu.memoryMiB.map(String.init) ?? "",
            "gpu.rocm": gpu.rocm ? "true" : "false",
            "arch": architecture,
            "os.id": os.id,
            "os.version_id": os.versionID,
        ]
        facts["cpu.cgroup_quota"] = cpu.cgroupQuota.map { String($0) } ?? "none"
        return facts
    }
}

/// Memory in MiB. `effectiveMiB` is what the stack may use: MemTotal, lowered by a cgroup limit, rounded down to
/// 256 MiB so that a kernel update that moves MemTotal by a few pages does not change a profile's numbers.
public struct MemoryFacts: Codable, Sendable, Hashable {
    /// MemTotal from /proc/meminfo.
    public var totalMiB: Int
    /// The tightest cgroup memory limit on the path of this process (v2 `memory.max`, v1 `memory.limit_in_bytes`),
    /// when one is below MemTotal.
    public var cgroupLimitMiB: Int?
    public var effectiveMiB: Int
    /// Where the limit came from (a file path inside the sysroot), for the reasons.
    public var limitSource: String?

    public init(totalMiB: Int, cgroupLimitMiB: Int?, limitSource: String?) {
        self.totalMiB = totalMiB
        self.cgroupLimitMiB = cgroupLimitMiB
        self.limitSource = limitSource
        let usable = min(totalMiB, cgroupLimitMiB ?? totalMiB)
        self.effectiveMiB = usable / 256 * 256
    }

    public var effectiveGiB: Double { Double(effectiveMiB) / 1024 }
}

public struct CPUFacts: Codable, Sendable, Hashable {
    /// CPUs the kernel has online (`/sys/devices/system/cpu/online`).
    public var online: Int
    /// CPUs this process may run on (`Cpus_allowed_list` in /proc/self/status).
    public var affinity: Int
    /// A cgroup CPU quota in CPUs (v2 `cpu.max`, v1 `cpu.cfs_quota_us / cpu.cfs_period_us`), when one applies.
    public var cgroupQuota: Double?
    /// What the stack can use: the smallest of the three, rounded up, at least 1.
    public var effective: Int

    public init(online: Int, affinity: Int, cgroupQuota: Double?) {
        self.online = online
        self.affinity = affinity
        self.cgroupQuota = cgroupQuota
        var count = min(max(online, 1), max(affinity, 1))
        if let quota = cgroupQuota {
            var rounded = Int(quota)
            if Double(rounded) < quota { rounded += 1 }
            count = min(count, rounded)
        }
        self.effective = max(count, 1)
    }
}

public enum GPUVendor: String, Codable, Sendable, Equatable {
    case nvidia, amd, intel, other, none
}

/// The GPU the stack could use. Only an NVIDIA card whose `nvidia-smi` answered counts as usable (the compose file's
/// device reservation is NVIDIA's); anything else is described, with the reason it is not used.
public struct GPUFacts: Codable, Sendable, Hashable {
    public var vendor: GPUVendor
    public var usable: Bool
    public var name: String?
    /// Memory of the largest usable card.
    public var memoryMiB: Int?
    public var driverVersion: String?
    /// Number of cards nvidia-smi listed.
    public var count: Int
    /// `/dev/kfd` exists (AMD ROCm compute).
    public var rocm: Bool
    /// Display-class PCI devices, as `vendor:class` (`10de:0300`).
    public var pciDisplayDevices: [String]
    /// Why the GPU is (not) usable, in a sentence.
    public var reason: String

    public init(
        vendor: GPUVendor, usable: Bool, name: String? = nil, memoryMiB: Int? = nil, driverVersion: String? = nil,
        count: Int = 0, rocm: Bool = false, pciDisplayDevices: [String] = [], reason: String
    ) {
        self.vendor = vendor
        self.usable = usable
        self.name = name
        self.memoryMiB = memoryMiB
        self.driverVersion = driverVersion
        self.count = count
        self.rocm = rocm
        self.pciDisplayDevices = pciDisplayDevices
        self.reason = reason
    }
}

/// From /etc/os-release.
public struct OSFacts: Codable, Sendable, Hashable {
    public var id: String
    public var idLike: [String]
    public var versionID: String
    public var versionCodename: String?
    public var prettyName: String

    public init(
        id: String, idLike: [String] = [], versionID: String, versionCodename: String? = nil, prettyName: String
    ) {
        self.id = id
        self.idLike = idLike
        self.versionID = versionID
        self.versionCodename = versionCodename
        self.prettyName = prettyName
    }
}

/// Docker as found on the host; versions are nil when the tool is missing or did not answer.
public struct DockerFacts: Codable, Sendable, Hashable {
    public var clientVersion: String?
    /// The engine's version; nil when no engine answered (not installed, not running, no permission).
    public var engineVersion: String?
    /// Compose v2 (`docker compose version`).
    public var composeVersion: String?
    /// Why the engine or compose are missing, when they are.
    public var notes: [String]

    public init(
        clientVersion: String? = nil, engineVersion: String? = nil, composeVersion: String? = nil, notes: [String] = []
    ) {
        self.clientVersion = clientVersion
        self.engineVersion = engineVersion
        self.composeVersion = composeVersion
        self.notes = notes
    }
}

public struct DiskFacts: Codable, Sendable, Hashable {
    /// The folder measured: the deploy folder or its nearest existing parent.
    public var path: String
    public var freeMiB: Int

    public init(path: String, freeMiB: Int) {
        self.path = path
        self.freeMiB = freeMiB
    }
}
