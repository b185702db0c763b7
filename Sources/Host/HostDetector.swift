import Processes
import SBSCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the host's facts through a sysroot and a command runner. Nothing here changes the machine.
public struct HostDetector: Sendable {
    public let sysroot: Sysroot
    public let runner: any CommandRunner
    /// nvidia-smi hangs on some broken drivers; past this it reads as "no usable GPU".
    public var nvidiaSmiTimeout: Duration = .seconds(10)
    public var toolTimeout: Duration = .seconds(10)

    /// - Parameters:
    ///   - sysroot: where `/proc`, `/sys`, `/etc/os-release` and `/dev/kfd` are read from.
    ///   - runner: runs nvidia-smi, lspci and docker. By default the system's; for a sysroot other than `/` one that
    ///     looks programs up only in `SYSROOT/usr/bin` and `SYSROOT/bin`.
    public init(sysroot: Sysroot = Sysroot(), runner: (any CommandRunner)? = nil) {
        self.sysroot = sysroot
        self.runner = runner ?? SystemCommandRunner(searchPath: sysroot.commandSearchPath)
    }

    /// All facts. `deployDirectory` (a real path, not inside the sysroot) is where free disk space is measured.
    /// - Throws: `UserError` when `/proc/meminfo` cannot be read or has no MemTotal (nothing sensible can be chosen
    ///   without it). Every other missing fact reads as absent.
    public func detect(deployDirectory: String? = nil) async throws(UserError) -> HostFacts {
        let memory = try detectMemory()
        let cpu = detectCPU()
        let os = detectOS()
        let gpu = await detectGPU()
        let docker = await detectDocker()
        let disk = deployDirectory.flatMap { DiskSpace.free(under: $0) }
        return HostFacts(
            memory: memory, cpu: cpu, gpu: gpu, os: os, architecture: detectArchitecture(),
            docker: docker, disk: disk)
    }

    // MARK: Memory

    /// MemTotal, lowered by the tightest cgroup limit on this process's path.
    /// - Throws: `UserError` when `/proc/meminfo` is missing or has no MemTotal line.
    public func detectMemory() throws(UserError) -> MemoryFacts {
        guard let meminfo = sysroot.readText("/proc/meminfo"),
            let totalKiB = Self.meminfoValueKiB(meminfo, key: "MemTotal")
        else {
            throw UserError(
                "Could not read MemTotal from \(sysroot.resolve("/proc/meminfo")).",
                remedy: "sbs needs /proc mounted to size the stack; run it on the host, not in a restricted sandbox.")
        }
        let totalBytes = totalKiB * 1024
        let cgroups = CgroupPaths(sysroot: sysroot)
        var limit: (bytes: Int, source: String)?
        for (file, value) in cgroups.memoryLimits() where value < totalBytes {
            if let current = limit, current.bytes <= value { continue }
            limit = (value, file)
        }
        return MemoryFacts(
            totalMiB: totalBytes / 1_048_576, cgroupLimitMiB: limit.map { $0.bytes / 1_048_576 },
            limitSource: limit?.source)
    }

    static func meminfoValueKiB(_ text: String, key: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let fields = line.dropFirst(key.count + 1).split(separator: " ")
            return fields.first.flatMap { Int($0) }
        }
        return nil
    }

    // MARK: CPU

    public func detectCPU() -> CPUFacts {
        var online = sysroot.readLine("/sys/devices/system/cpu/online").flatMap(Self.countCPUList)
        if online == nil, let cpuinfo = sysroot.readText("/proc/cpuinfo") {
            let count = cpuinfo.split(separator: "\n").filter { $0.hasPrefix("processor") }.count
            online = count > 0 ? count : nil
        }
        let onlineCount = online ?? 1
        var affinity = onlineCount
        if let status = sysroot.readText("/proc/self/status") {
            for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
                if let count = Self.countCPUList(String(line.dropFirst("Cpus_allowed_list:".count))) {
                    affinity = count
                }
            }
        }
        let quota = CgroupPaths(sysroot: sysroot).cpuQuota()
        return CPUFacts(online: onlineCount, affinity: affinity, cgroupQuota: quota)
    }

    /// Counts a kernel CPU list such as `0-3,8,10-11`.
    static func countCPUList(_ text: String) -> Int? {
        var count = 0
        for part in text.trimmingSpaces.split(separator: ",") {
            let bounds = part.split(separator: "-")
            if bounds.count == 1, Int(bounds[0]) != nil {
                count += 1
            } else if bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), high >= low {
                count += high - low + 1
            } else {
                return nil
            }
        }
        return count > 0 ? count : nil
    }

    // MARK: OS and architecture

    public func detectOS() -> OSFacts {
        let text = sysroot.readText("/etc/os-release") ?? sysroot.readText("/usr/lib/os-release") ?? ""
        let fields = Self.parseOSRelease(text)
        let id = fields["ID"] ?? "unknown"
        return OSFacts(
            id: id,
            idLike: (fields["ID_LIKE"] ?? "").split(separator: " ").map(String.init),
            versionID: fields["VERSION_ID"] ?? "",
            versionCodename: fields["VERSION_CODENAME"],
            prettyName: fields["PRETTY_NAME"] ?? id
        )
    }

    static func parseOSRelease(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingSpaces
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = String(trimmed[..<equals])
            var value = String(trimmed[trimmed.index(after: equals)...])
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            fields[key] = value.replacingBackslashEscapes
        }
        return fields
    }

    public func detectArchitecture() -> String {
        if let arch = sysroot.readLine("/proc/sys/kernel/arch") { return arch }
        guard sysroot.isRealSystem else { return "unknown" }
        var names = utsname()
        guard uname(&names) == 0 else { return "unknown" }
        return withUnsafePointer(to: names.machine) {
            $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) }
        }
    }

    // MARK: Docker

    public func detectDocker() async -> DockerFacts {
        var facts = DockerFacts()
        let client = try? await runner.run(["docker", "--version"], timeout: toolTimeout)
        guard let client, client.status == 0 else {
            facts.notes.append("The docker command is not installed.")
            return facts
        }
        // "Docker version 28.2.2, build e6534b4"
        facts.clientVersion = client.stdout.split(separator: " ").dropFirst(2).first.map {
            String($0.trimmingCharacters(","))
        }
        let engine = try? await runner.run(
            ["docker", "version", "--format", "{{.Server.Version}}"], timeout: toolTimeout)
        if let engine, engine.status == 0, !engine.stdout.trimmingSpaces.isEmpty {
            facts.engineVersion = engine.stdout.trimmingSpaces
        } else {
            let why =
                engine.map { $0.timedOut ? "it did not answer in time" : Self.firstLine($0.stderr + $0.stdout) }
                ?? "it could not be started"
            facts.notes.append("No Docker engine answered: \(why)")
        }
        let compose = try? await runner.run(["docker", "compose", "version", "--short"], timeout: toolTimeout)
        if let compose, compose.status == 0, !compose.stdout.trimmingSpaces.isEmpty {
            facts.composeVersion = compose.stdout.trimmingSpaces
        } else {
            facts.notes.append("Docker Compose v2 (the `docker compose` plugin) is not installed.")
        }
        return facts
    }

    static func firstLine(_ text: String) -> String {
        let line = text.split(separator: "\n").first.map { $0.trimmingSpaces } ?? ""
        return line.isEmpty ? "no output" : String(line.prefix(200))
    }
}

extension String {
    fileprivate var replacingBackslashEscapes: String {
        guard contains("\\") else { return self }
        var out = ""
        var escaped = false
        for character in self {
            if escaped {
                out.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return out
    }

    fileprivate func trimmingCharacters(_ set: Character) -> String {
        var text = Substring(self)
        while text.last == set { text.removeLast() }
        while text.first == set { text.removeFirst() }
        return String(text)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(_ set: Character) -> String { String(self).trimmingCharacters(set) }
}

/// Free space, measured with statvfs on the real file system.
public enum DiskSpace {
    /// Free space where `path` is (or will be created: the nearest existing folder above it).
    public static func free(under path: String) -> DiskFacts? {
        var candidate = path.isEmpty ? "/" : path
        while !AtomicFile.exists(candidate) && candidate != "/" {
            candidate = AtomicFile.parentDirectory(of: candidate)
        }
        var info = statvfs()
        guard statvfs(candidate, &info) == 0 else { return nil }
        let bytes = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        return DiskFacts(path: candidate, freeMiB: Int(bytes / 1_048_576))
    }
}
