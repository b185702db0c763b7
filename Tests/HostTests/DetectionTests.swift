import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Host

@Suite("Host detection from fixture trees")
struct DetectionTests {
    @Test func vmWith16GiBAndNoGPU() async throws {
        let facts = try await HostDetector(sysroot: Fixtures.host("vm-16g-no-gpu")).detect()
        #expect(facts.memory.totalMiB == 15932)
        #expect(facts.memory.cgroupLimitMiB == nil)
        #expect(facts.memory.effectiveMiB == 15872)
        #expect(facts.cpu.online == 4 && facts.cpu.effective == 4)
        #expect(facts.gpu.usable == false)
        #expect(facts.gpu.vendor == .other)
        #expect(facts.gpu.pciDisplayDevices == ["1234:0300"])
        #expect(facts.os.id == "debian" && facts.os.versionID == "12" && facts.os.versionCodename == "bookworm")
        #expect(facts.os.prettyName == "Debian GNU/Linux 12 (bookworm)")
        #expect(facts.architecture == "x86_64")
        // The fixture has no docker: absent, with the reason.
        #expect(facts.docker.clientVersion == nil)
        #expect(facts.docker.notes.contains { $0.contains("not installed") })

        let profile = try Fixtures.profileTable().choose(for: facts, request: ProfileChoiceRequest())
        #expect(profile.name == .minimum)
        #expect(profile.runsOllama == false && profile.ollamaModels.isEmpty)
        // Basic monitoring: Prometheus, the exporters and Alertmanager (the alerts), no Grafana.
        #expect(profile.composeProfiles == ["monitoring"])
        #expect(profile.apiWorkers == 1)
        #expect(profile.monitoringEnabled && !profile.runsGrafana)
        #expect(!profile.runs(.monitoring) && profile.runs(.alertmanager) && profile.runs(.prometheus))
        #expect(profile.memoryLimitMiB(for: .appDB) == 3968)
        #expect(profile.postgres.sharedBuffersMiB == 992)
        #expect(profile.postgres.effectiveCacheSizeMiB == 2976)
        #expect(profile.postgres.maxConnections == 100)
        #expect(profile.reasons.contains { $0.contains("Anthropic API") })
    }

    @Test func hostWith64GiBAndAnNvidiaCard() async throws {
        let facts = try await HostDetector(sysroot: Fixtures.host("nvidia-64g")).detect()
        #expect(facts.memory.effectiveMiB == 64256)
        #expect(facts.cpu.effective == 16)
        #expect(facts.gpu.usable)
        #expect(facts.gpu.vendor == .nvidia)
        #expect(facts.gpu.name == "NVIDIA GeForce RTX 4090")
        #expect(facts.gpu.memoryMiB == 24564)
        #expect(facts.gpu.driverVersion == "550.54.14")
        // The card's HDMI audio function (class 0403) and the AMD chipset are not display devices.
        #expect(facts.gpu.pciDisplayDevices == ["10de:0300"])
        #expect(facts.os.id == "ubuntu" && facts.os.versionID == "24.04" && facts.os.idLike == ["debian"])

        let profile = try Fixtures.profileTable().choose(for: facts, request: ProfileChoiceRequest())
        #expect(profile.name == .optimal)
        #expect(profile.gpu && profile.runsOllama && profile.monitoringEnabled)
        #expect(profile.composeProfiles == ["gpu", "grafana", "monitoring", "ollama"])
        #expect(profile.ollamaModels == ["qwen2.5:32b", "llama3.1:8b"])
        #expect(profile.apiWorkers == 8)
        #expect(profile.monitoring.level == .advanced)
        #expect(profile.memoryLimitMiB(for: .ollama) == 28864)
    }

    @Test func containerOf32GiBHostLimitedTo8GiB() async throws {
        let facts = try await HostDetector(sysroot: Fixtures.host("container-32g-limit-8g")).detect()
        #expect(facts.memory.totalMiB == 32086)
        #expect(facts.memory.cgroupLimitMiB == 8192)
        #expect(facts.memory.effectiveMiB == 8192)
        #expect(facts.memory.limitSource == "/sys/fs/cgroup/memory.max")
        #expect(facts.cpu.online == 8 && facts.cpu.cgroupQuota == 2 && facts.cpu.effective == 2)
        // An AMD chipset and USB controller are not GPUs.
        #expect(facts.gpu.vendor == .none && facts.gpu.pciDisplayDevices.isEmpty)

        let table = try Fixtures.profileTable()
        let refusal = #expect(throws: UserError.self) {
            try table.choose(for: facts, request: ProfileChoiceRequest())
        }
        #expect(refusal?.message.contains("8 GiB") == true)
        #expect(refusal?.remedy?.contains("profile: minimum") == true)
        #expect(refusal?.remedy?.contains("container's memory limit") == true)

        // An explicit override installs anyway, scaled to the 8 GiB, and says so.
        let forced = try table.choose(for: facts, request: ProfileChoiceRequest(profile: .named(.minimum)))
        #expect(forced.name == .minimum && forced.explicit)
        #expect(forced.memoryBasisMiB == 8192)
        #expect(forced.memoryLimitMiB(for: .appDB) == 2048)
        #expect(forced.reasons.contains { $0.contains("below its floor") })
        #expect(forced.reasons.first?.contains("cgroup") == true)
    }

    @Test func brokenNvidiaDriverReadsAsNoUsableGPU() async throws {
        let facts = try await HostDetector(sysroot: Fixtures.host("broken-nvidia")).detect()
        #expect(facts.gpu.usable == false)
        #expect(facts.gpu.vendor == .nvidia)
        #expect(facts.gpu.reason.contains("exit 9"))
        #expect(facts.gpu.reason.contains("couldn't communicate with the NVIDIA driver"))

        let profile = try Fixtures.profileTable().choose(for: facts, request: ProfileChoiceRequest())
        #expect(profile.name == .recommended)
        #expect(profile.gpu == false && profile.runsOllama)
        #expect(profile.ollamaModels == ["mistral:7b"])
        #expect(profile.composeProfiles == ["grafana", "monitoring", "ollama"])
        #expect(profile.apiWorkers == 4)

        // Forcing the GPU on is refused with the reason.
        let refusal = #expect(throws: UserError.self) {
            try Fixtures.profileTable().choose(for: facts, request: ProfileChoiceRequest(gpu: .on))
        }
        #expect(refusal?.message.contains("exit 9") == true)
    }

    @Test func hangingNvidiaSmiTimesOut() async throws {
        let tree = try TemporaryDirectory()
        try tree.write("proc/meminfo", "MemTotal: 16315060 kB\n")
        try tree.write("usr/bin/nvidia-smi", "#!/bin/sh\nexec sleep 30\n", mode: 0o755)
        var detector = HostDetector(sysroot: Sysroot(tree.path))
        detector.nvidiaSmiTimeout = .seconds(1)
        let gpu = await detector.detectGPU()
        #expect(gpu.usable == false)
        #expect(gpu.reason.contains("did not answer within 1 s"))
    }

    @Test func nvidiaWithoutContainerToolkitIsNotUsable() async throws {
        let tree = try TemporaryDirectory()
        try tree.write("usr/bin/nvidia-smi", "#!/bin/sh\necho 'Tesla T4, 15360 MiB, 535.1'\n", mode: 0o755)
        let gpu = await HostDetector(sysroot: Sysroot(tree.path)).detectGPU()
        #expect(gpu.usable == false)
        #expect(gpu.memoryMiB == 15360)
        #expect(gpu.reason.contains("Container Toolkit"))
    }

    @Test func cgroupV1LimitsOnTheProcessPathAndItsParents() throws {
        let tree = try TemporaryDirectory()
        try tree.write("proc/meminfo", "MemTotal: 32856972 kB\n")
        try tree.write("proc/self/cgroup", "5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
        try tree.write("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
        try tree.write("sys/fs/cgroup/memory/docker/memory.limit_in_bytes", "6442450944\n")
        try tree.write("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n")
        try tree.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n")
        try tree.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
        try tree.write("sys/devices/system/cpu/online", "0-7\n")
        let detector = HostDetector(sysroot: Sysroot(tree.path))
        let memory = try detector.detectMemory()
        #expect(memory.cgroupLimitMiB == 6144)
        #expect(memory.limitSource == "/sys/fs/cgroup/memory/docker/memory.limit_in_bytes")
        let cpu = detector.detectCPU()
        #expect(cpu.cgroupQuota == 1.5 && cpu.effective == 2)
    }

    @Test func missingMeminfoIsAnError() throws {
        let tree = try TemporaryDirectory()
        #expect(throws: UserError.self) { try HostDetector(sysroot: Sysroot(tree.path)).detectMemory() }
    }

    @Test func lspciIsTheFallbackWithoutSysfs() async throws {
        let tree = try TemporaryDirectory()
        try tree.write(
            "usr/bin/lspci", "#!/bin/sh\necho '00:00.0 0600: 1022:1480'\necho '03:00.0 0300: 1002:73bf (rev c1)'\n",
            mode: 0o755)
        try tree.write("dev/kfd", "")
        let gpu = await HostDetector(sysroot: Sysroot(tree.path)).detectGPU()
        #expect(gpu.vendor == .amd && gpu.rocm && !gpu.usable)
        #expect(gpu.pciDisplayDevices == ["1002:0300"])
        #expect(gpu.reason.contains("ROCm"))
    }

    @Test func nvidiaSmiOutputParsing() {
        #expect(
            HostDetector.parseNvidiaSmi("A100, 81920 MiB, 535.1\nT4, 15360 MiB, 535.1\n")
                == .success([
                    .init(name: "A100", memoryMiB: 81920, driver: "535.1"),
                    .init(name: "T4", memoryMiB: 15360, driver: "535.1"),
                ]))
        #expect(HostDetector.parseNvidiaSmi("") == .failure("listed no GPU"))
        if case .failure(let why) = HostDetector.parseNvidiaSmi("GPU, [N/A], 535\n") {
            #expect(why.contains("no memory size"))
        } else {
            Issue.record("parsed [N/A]")
        }
        if case .failure = HostDetector.parseNvidiaSmi("garbage\n") {} else { Issue.record("parsed garbage") }
    }

    @Test func cpuListCounting() {
        #expect(HostDetector.countCPUList("0-3,8,10-11\n") == 7)
        #expect(HostDetector.countCPUList("0") == 1)
        #expect(HostDetector.countCPUList("x") == nil)
    }

    @Test func stableFactsLeaveOutWhatDrifts() async throws {
        let detector = HostDetector(sysroot: Fixtures.host("nvidia-64g"))
        let first = try await detector.detect(deployDirectory: NSTemporaryDirectory())
        let second = try await detector.detect()
        #expect(first.stableFacts == second.stableFacts)
        #expect(first.stableFacts["memory.effective_mib"] == "64256")
        #expect(first.stableFacts["gpu.memory_mib"] == "24564")
        #expect(first.stableFacts["os.id"] == "ubuntu")
        #expect(
            !first.stableFacts.keys.contains { $0.contains("disk") || $0.contains("free") || $0.contains("docker") })
        #expect(first.disk != nil)

        let json = try JSONEncoder().encode(first)
        #expect(try JSONDecoder().decode(HostFacts.self, from: json) == first)
    }

    @Test func theRealSystemCanBeRead() async throws {
        let facts = try await HostDetector().detect(deployDirectory: "/tmp/does-not-exist/deploy")
        #expect(facts.memory.totalMiB > 0)
        #expect(facts.cpu.effective >= 1)
        #expect(facts.architecture != "unknown")
        #expect(facts.disk?.path == "/tmp")
    }
}
