import Foundation
import TestSupport
import Testing

@testable import Host

@Suite("Waits that Ctrl-C ends")
struct InterruptedWaitTests {
    // Cancelling the wait for apt/dpkg (Ctrl-C during preflight) ends it at once, saying so. The cancelled sleep
    // used to be swallowed: the loop then ran through all its polls and reported a 15-minute timeout.
    @Test(.timeLimit(.minutes(1)))
    func cancellingThePackageManagerWaitEndsItAtOnce() async throws {
        struct AlwaysHeld: PackageManagerLockProbe {
            func holder(of path: String) -> LockHolder? { LockHolder(pid: 812, process: "unattended-upgr") }
        }
        let wait = Task {
            await PreflightChecks().waitForPackageManagerLock(probe: AlwaysHeld(), pollInterval: .seconds(2)) { _ in }
        }
        try await Task.sleep(for: .milliseconds(200))
        wait.cancel()
        let result = await wait.value
        #expect(result.status == .fail)
        #expect(result.detail.contains("Interrupted while waiting for the package manager"), "\(result.detail)")
    }
}

@Suite("nvidia-smi that misbehaves")
struct MisbehavingNvidiaSmiTests {
    // A fixture nvidia-smi that answered and left a detached daemon holding its output kept detection (and the
    // test) waiting for the daemon: the answer counts once nvidia-smi itself has exited.
    @Test(.timeLimit(.minutes(1)))
    func anNvidiaSmiThatLeavesADaemonBehindIsReadWhenItExits() async throws {
        let tree = try TemporaryDirectory()
        let marker = tree.path + "/daemon.pid"
        try tree.write(
            "usr/bin/nvidia-smi",
            """
            #!/bin/sh
            setsid sh -c 'echo $$ > \(marker); exec sleep 300' &
            echo 'Tesla T4, 15360 MiB, 535.1'
            """, mode: 0o755)
        defer {
            if let text = try? String(contentsOfFile: marker, encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(pid, SIGKILL)
            }
        }
        let gpu = await HostDetector(sysroot: Sysroot(tree.path)).detectGPU()
        #expect(gpu.memoryMiB == 15360, "\(gpu.reason)")
        #expect(!gpu.reason.contains("did not answer"))
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: marker) {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
