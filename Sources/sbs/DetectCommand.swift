import ArgumentParser
import FoundationEssentials
import Host
import Installer
import SBSCore

/// `sbs detect [--json]`: the host's facts, the profile sbs would choose and why. Changes nothing.
struct DetectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Show the host's memory, CPUs, GPU, OS and Docker, and the profile sbs would choose."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON: {facts, stableFacts, profile, refusal}.")
    var json = false

    @Option(
        help: ArgumentHelp("Choose as the answers would: auto, minimum, recommended or optimal.", valueName: "PROFILE"))
    var profile: String = "auto"

    @Option(help: ArgumentHelp("Where free disk space is measured (default <root>/opt/sbs).", valueName: "DIR"))
    var deployDir: String?

    struct Report: Encodable {
        var facts: HostFacts
        var stableFacts: [String: String]
        var profile: ResolvedProfile?
        var refusal: Refusal?
    }

    struct Refusal: Encodable {
        var message: String
        var remedy: String?
    }

    func run() async throws {
        let session = global.session
        let request = ProfileChoiceRequest(profile: try ProfileRequest(profile))
        let detector = HostDetector(sysroot: Sysroot(session.sysroot), runner: session.commands)
        let deploy = deployDir.map(absolute) ?? session.layout.resolve("/opt/sbs")
        let facts = try await detector.detect(deployDirectory: deploy)
        let table = try ProfileTable(yaml: session.assets.text("assets/profiles.yaml"))
        var report = Report(facts: facts, stableFacts: facts.stableFacts)
        do {
            report.profile = try table.choose(for: facts, request: request)
        } catch {
            report.refusal = Refusal(message: error.message, remedy: error.remedy)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            session.output.out(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            session.output.out(Self.text(report))
        }
    }

    static func text(_ report: Report) -> String {
        let facts = report.facts
        func gib(_ mib: Int) -> String {
            let tenths = (mib * 10 + 512) / 1024
            return "\(tenths / 10).\(tenths % 10) GiB"
        }
        var lines: [String] = []
        var memory = "Memory:   \(gib(facts.memory.effectiveMiB)) usable"
        if let limit = facts.memory.cgroupLimitMiB {
            memory += " (MemTotal \(gib(facts.memory.totalMiB)), cgroup limit \(gib(limit)))"
        }
        lines.append(memory)
        var cpu = "CPUs:     \(facts.cpu.effective)"
        if facts.cpu.effective != facts.cpu.online { cpu += " of \(facts.cpu.online) online" }
        lines.append(cpu)
        lines.append(
            "GPU:      \(facts.gpu.usable ? "\(facts.gpu.name ?? "GPU"), \(gib(facts.gpu.memoryMiB ?? 0))" : "none usable") — \(facts.gpu.reason)"
        )
        lines.append("System:   \(facts.os.prettyName), \(facts.architecture)")
        let docker = facts.docker
        lines.append(
            "Docker:   client \(docker.clientVersion ?? "missing"), engine \(docker.engineVersion ?? "not running"), compose \(docker.composeVersion ?? "missing")"
        )
        if let disk = facts.disk { lines.append("Disk:     \(gib(disk.freeMiB)) free under \(disk.path)") }
        lines.append("")
        if let profile = report.profile {
            lines.append(
                "Profile:  \(profile.name.rawValue)\(profile.explicit ? " (as asked)" : " (chosen for this host)")")
            lines.append(
                "  PostgreSQL: shared_buffers \(profile.postgres.sharedBuffersMiB) MB, effective_cache_size \(profile.postgres.effectiveCacheSizeMiB) MB, work_mem \(profile.postgres.workMemMiB) MB, max_connections \(profile.postgres.maxConnections)"
            )
            lines.append(
                "  API workers: \(profile.apiWorkers); compose profiles: \(profile.composeProfiles.isEmpty ? "none" : profile.composeProfiles.joined(separator: ", "))"
            )
            if profile.runsOllama { lines.append("  Ollama models: \(profile.ollamaModels.joined(separator: ", "))") }
            let running = StackService.allCases.filter { service in
                profile.runs(service)
            }
            let limits = running.map { "\($0.rawValue) \(profile.memoryLimitMiB(for: $0))M" }
            lines.append("  Memory limits: \(limits.joined(separator: ", "))")
            lines.append("Why:")
            lines += profile.reasons.map { "  - \($0)" }
        } else if let refusal = report.refusal {
            lines.append("Profile:  none — \(refusal.message)")
            if let remedy = refusal.remedy { lines.append("  → \(remedy)") }
        }
        return lines.joined(separator: "\n")
    }
}
