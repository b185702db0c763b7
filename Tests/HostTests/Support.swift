import Foundation
import Host
import SBSCore
import TestSupport
import Testing

enum Fixtures {
    /// `Tests/Fixtures/hosts/NAME`.
    static func host(_ name: String, file: String = #filePath) -> Sysroot {
        let testsDir = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
        return Sysroot(testsDir.appendingPathComponent("Fixtures/hosts/\(name)").path)
    }

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    static func profileTable() throws -> ProfileTable {
        let text = try String(contentsOfFile: repositoryRoot + "/assets/profiles.yaml", encoding: .utf8)
        return try ProfileTable(yaml: text)
    }
}

extension TemporaryDirectory {
    /// Writes `text` at `relative` below the folder with `mode`, creating the folders on the way.
    func write(_ relative: String, _ text: String, mode: Int = 0o644) throws {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
        chmod(full, mode_t(mode))
    }
}

/// Facts made up for a test, without reading any tree.
func makeFacts(memoryMiB: Int, cpus: Int = 4, gpuMiB: Int? = nil, cgroupLimitMiB: Int? = nil) -> HostFacts {
    let gpu =
        gpuMiB.map {
            GPUFacts(
                vendor: .nvidia, usable: true, name: "Test GPU", memoryMiB: $0, driverVersion: "550", count: 1,
                reason: "test GPU")
        } ?? GPUFacts(vendor: .none, usable: false, reason: "No GPU found.")
    return HostFacts(
        memory: MemoryFacts(totalMiB: memoryMiB, cgroupLimitMiB: cgroupLimitMiB, limitSource: nil),
        cpu: CPUFacts(online: cpus, affinity: cpus, cgroupQuota: nil),
        gpu: gpu,
        os: OSFacts(id: "debian", versionID: "12", prettyName: "Debian GNU/Linux 12 (bookworm)"),
        architecture: "x86_64", docker: DockerFacts(), disk: nil)
}
