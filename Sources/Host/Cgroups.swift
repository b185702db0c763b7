/// The cgroup folders that apply to this process, v2 (unified) or v1, read through a sysroot.
///
/// A limit set on any ancestor applies too, so each reader walks from the process's own cgroup up to the mount's
/// root. Inside a container without a cgroup namespace the recorded path does not exist under the mount (only the
/// container's own cgroup is mounted); then the mount's root is the container's cgroup.
struct CgroupPaths {
    let sysroot: Sysroot
    /// Controller name (`memory`, `cpu`; `""` for v2) → path from /proc/self/cgroup.
    let paths: [String: String]

    init(sysroot: Sysroot) {
        self.sysroot = sysroot
        var paths: [String: String] = [:]
        for line in (sysroot.readText("/proc/self/cgroup") ?? "").split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let controllers = fields[1].split(separator: ",").map(String.init)
            if controllers.isEmpty { paths[""] = String(fields[2]) }
            for controller in controllers { paths[controller] = String(fields[2]) }
        }
        self.paths = paths
    }

    /// The folders from the process's cgroup up to the mount root, innermost first (only those that exist).
    func folders(mount: String, path: String?) -> [String] {
        guard sysroot.isDirectory(mount) else { return [] }
        var result: [String] = []
        var components = (path ?? "/").split(separator: "/").map(String.init)
        if !components.isEmpty && !sysroot.isDirectory(mount + "/" + components.joined(separator: "/")) {
            components = []
        }
        while !components.isEmpty {
            result.append(mount + "/" + components.joined(separator: "/"))
            components.removeLast()
        }
        result.append(mount)
        return result
    }

    var unifiedMount: String? {
        sysroot.exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : nil
    }

    /// Every memory limit on the path: (file, bytes). v1's "unlimited" is a huge number; the caller compares
    /// against MemTotal.
    func memoryLimits() -> [(String, Int)] {
        var limits: [(String, Int)] = []
        if let mount = unifiedMount {
            for folder in folders(mount: mount, path: paths[""]) {
                if let text = sysroot.readLine(folder + "/memory.max"), let bytes = Int(text) {
                    limits.append((folder + "/memory.max", bytes))
                }
            }
        }
        for folder in folders(mount: "/sys/fs/cgroup/memory", path: paths["memory"]) {
            if let text = sysroot.readLine(folder + "/memory.limit_in_bytes"), let bytes = Int(text), bytes > 0 {
                limits.append((folder + "/memory.limit_in_bytes", bytes))
            }
        }
        return limits
    }

    /// The tightest CPU quota on the path, in CPUs, or nil.
    func cpuQuota() -> Double? {
        var quotas: [Double] = []
        if let mount = unifiedMount {
            for folder in folders(mount: mount, path: paths[""]) {
                // "max 100000" (no quota) or "200000 100000" (2 CPUs).
                guard let fields = sysroot.readLine(folder + "/cpu.max")?.split(separator: " "), fields.count == 2,
                    let quota = Double(fields[0]), let period = Double(fields[1]), period > 0
                else { continue }
                quotas.append(quota / period)
            }
        }
        for mount in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"] {
            for folder in folders(mount: mount, path: paths["cpu"]) {
                guard let quota = sysroot.readLine(folder + "/cpu.cfs_quota_us").flatMap({ Double($0) }), quota > 0,
                    let period = sysroot.readLine(folder + "/cpu.cfs_period_us").flatMap({ Double($0) }), period > 0
                else { continue }
                quotas.append(quota / period)
            }
        }
        return quotas.min()
    }
}
