import SBSCore

/// The choice rules: which profile a host gets, and the numbers that profile fixes for it.
extension ProfileTable {
    /// Resolves `request` for the host.
    /// - Throws: `UserError` when `auto` finds the host below the minimum profile's floor (the refusal says how to
    ///   override), or when the GPU feature is forced on without a usable GPU.
    public func choose(for facts: HostFacts, request: ProfileChoiceRequest) throws(UserError) -> ResolvedProfile {
        let memory = facts.memory.effectiveMiB
        var reasons: [String] = []
        if let limit = facts.memory.cgroupLimitMiB {
            reasons.append(
                "Usable memory \(Self.gib(memory)): MemTotal is \(Self.gib(facts.memory.totalMiB)) but a cgroup limits this system to \(Self.gib(limit))."
            )
        } else {
            reasons.append(
                "Usable memory \(Self.gib(memory)) (MemTotal), \(facts.cpu.effective) CPU\(facts.cpu.effective == 1 ? "" : "s")."
            )
        }

        let rule: ProfileRule
        switch request.profile {
        case .auto:
            guard let fitting = profiles.last(where: { memory >= $0.memoryFloorMiB }) else {
                let minimum = profiles[0]
                throw UserError(
                    "This host has \(Self.gib(memory)) of usable memory; the smallest profile (\(minimum.name.rawValue), \(minimum.nominal)) needs at least \(Self.gib(minimum.memoryFloorMiB)).",
                    remedy:
                        "Give the machine more memory\(facts.memory.cgroupLimitMiB != nil ? " (or raise the container's memory limit)" : ""), or set `profile: minimum` in the answers file to install anyway, at the risk of running out of memory."
                )
            }
            rule = fitting
            if let next = profiles.first(where: { $0.memoryFloorMiB > memory }) {
                reasons.append(
                    "Profile \(rule.name.rawValue) (\(rule.nominal)): the host meets its floor of \(Self.gib(rule.memoryFloorMiB)) but not \(next.name.rawValue)'s \(Self.gib(next.memoryFloorMiB))."
                )
            } else {
                reasons.append(
                    "Profile \(rule.name.rawValue) (\(rule.nominal)): the host meets its floor of \(Self.gib(rule.memoryFloorMiB)), the largest profile."
                )
            }
        case .named(let name):
            guard let named = self.rule(name) else {
                throw UserError("The profiles table has no '\(name.rawValue)' profile.")
            }
            rule = named
            if memory < named.memoryFloorMiB {
                reasons.append(
                    "Profile \(name.rawValue) was chosen in the answers although the host has \(Self.gib(memory)), below its floor of \(Self.gib(named.memoryFloorMiB)): the limits below are scaled to the host and services may run out of memory."
                )
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
                throw UserError(
                    "The answers turn the GPU feature on, but this host has no usable GPU. \(facts.gpu.reason)",
                    remedy: "Fix the NVIDIA driver and container toolkit, or set `features.gpu: auto` (or false).")
            }
            gpu = true
        case .auto:
            gpu = facts.gpu.usable
            reasons.append("GPU: \(facts.gpu.reason)")
        }
        let ollamaGPUMemory = gpu ? gpuMemory : 0
        let runsOllama =
            rule.ollama.run
            || (gpu && rule.ollama.runWithGPUMemoryMiBAtLeast > 0
                && ollamaGPUMemory >= rule.ollama.runWithGPUMemoryMiBAtLeast)
        var models: [String] = []
        if runsOllama {
            let tier = rule.ollama.models.first {
                ollamaGPUMemory >= $0.gpuMemoryMiBAtLeast && ($0.gpuMemoryMiBAtLeast == 0 || gpu)
            }
            models = tier?.pull ?? []
            if !rule.ollama.run {
                reasons.append(
                    "Ollama: the \(rule.name.rawValue) profile runs no local models, but the GPU's \(Self.gib(ollamaGPUMemory)) hold \(models.joined(separator: ", "))."
                )
            } else if gpu {
                reasons.append(
                    "Ollama: models \(models.joined(separator: ", ")) fit the GPU's \(Self.gib(ollamaGPUMemory)).")
            } else {
                reasons.append("Ollama: no GPU in use, so CPU-sized models: \(models.joined(separator: ", ")).")
            }
        } else {
            reasons.append(
                "Ollama: not run locally on the \(rule.name.rawValue) profile; AI requests go to the Anthropic API.")
            if gpu { reasons.append("GPU: unused, since no local models run.") }
            gpu = false
        }

        // Monitoring.
        var monitoring = MonitoringSettings(
            level: rule.monitoring.level, retentionDays: rule.monitoring.retentionDays,
            scrapeIntervalSeconds: rule.monitoring.scrapeIntervalSeconds)
        let monitoringEnabled: Bool
        switch request.monitoring {
        case .auto:
            monitoringEnabled = true
            reasons.append(
                monitoring.level == .basic
                    ? "Monitoring: basic (Prometheus, its exporters and Alertmanager: the alerts, without Grafana's dashboards; \(monitoring.retentionDays) days of metrics)."
                    : "Monitoring: \(monitoring.level.rawValue) (Prometheus, its exporters, Alertmanager and Grafana; \(monitoring.retentionDays) days of metrics)."
            )
        case .on:
            monitoringEnabled = true
            if monitoring.level == .basic { monitoring.level = .full }
            reasons.append(
                "Monitoring: turned on in the answers (Prometheus, its exporters, Alertmanager and Grafana).")
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
            maintenanceWorkMemMiB: min(
                max(Int(Double(dbLimit) * p.maintenanceWorkMem.share), p.maintenanceWorkMem.minMiB),
                p.maintenanceWorkMem.maxMiB),
            maxConnections: p.maxConnections)
        let cpus = facts.cpu.effective
        let workers = min(max(Int(Double(cpus) * rule.apiWorkers.perCPU), rule.apiWorkers.min), rule.apiWorkers.max)
        reasons.append(
            "API workers: \(workers) for \(cpus) CPU\(cpus == 1 ? "" : "s"); PostgreSQL shared_buffers \(postgres.sharedBuffersMiB) MiB of app-db's \(dbLimit) MiB."
        )

        var composeProfiles: [String] = []
        if runsOllama { composeProfiles.append("ollama") }
        if gpu { composeProfiles.append("gpu") }
        if monitoringEnabled { composeProfiles.append("monitoring") }
        if monitoringEnabled, monitoring.level != .basic { composeProfiles.append("grafana") }
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
