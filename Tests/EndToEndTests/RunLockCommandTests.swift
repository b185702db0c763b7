import Foundation
import SBSCore
import StepGraph
import TestSupport
import Testing

/// Commands that change the server take the installation's run lock; a timer's run waits a bounded time for it.
@Suite("The run lock, from outside")
struct RunLockCommandTests {
    /// Holds the lock for the test, released when it is dropped.
    final class Holder: @unchecked Sendable {
        private let lock = NSLock()
        private var held: RunLock?
        init(_ path: String) throws { held = try RunLock(path: path) }
        func release() { lock.withLock { held = nil } }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRenewalWaitsForTheLockAndGivesUpWith75() async throws {
        let root = scratchDirectory("renew-lock")
        let layout = Layout(root: root)
        try FileManager.default.createDirectory(atPath: layout.stateDir, withIntermediateDirectories: true)
        let holder = try Holder(layout.lockFile)

        // Held past the wait: refused with 75, naming the holder (this test's process) and the wait.
        let refused = try await sbs(["renew", "--root", root, "--wait-for-lock", "1"])
        #expect(refused.status == 75, "\(refused.stderr)")
        #expect(refused.stderr.contains("pid \(getpid())"), "\(refused.stderr)")
        #expect(refused.stderr.contains("waited 1 s"), "\(refused.stderr)")
        // Without a wait: refused at once.
        let atOnce = try await sbs(["renew", "--root", root])
        #expect(atOnce.status == 75, "\(atOnce.stderr)")

        // Released while the renewal waits: it goes on and ends (nothing to renew here).
        async let waited = sbs(["renew", "--root", root, "--wait-for-lock", "30"])
        try await Task.sleep(for: .seconds(1))
        holder.release()
        let run = try await waited
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("nothing to renew"), "\(run.stderr)")
    }

    /// A command refused because another run holds the lock says to run that command again, not `sbs resume`.
    @Test func aRefusedCommandSaysToRunItselfAgain() async throws {
        let root = scratchDirectory("lock-rerun")
        let layout = Layout(root: root)
        try FileManager.default.createDirectory(atPath: layout.stateDir, withIntermediateDirectories: true)
        let holder = try Holder(layout.lockFile)
        for command in [["uninstall"], ["upgrade", "--to", "2.0.0"], ["restore", "--repository", "/srv/restic"]] {
            let refused = try await sbs(command + ["--root", root])
            #expect(refused.status == 75, "\(command): \(refused.stderr)")
            #expect(refused.stderr.contains("then run `sbs \(command[0])` again"), "\(command): \(refused.stderr)")
            #expect(!refused.stderr.contains("sbs resume"), "\(command): \(refused.stderr)")
        }
        holder.release()
    }

    @Test func aRenewalWithoutAnInstallationMakesNoLockFolder() async throws {
        let root = scratchDirectory("renew-nothing")
        let run = try await sbs(["renew", "--root", root])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: Layout(root: root).stateDir))
    }

    @Test func aWaitOutOfRangeIsAUsageError() async throws {
        let run = try await sbs(["renew", "--root", scratchDirectory("renew-usage"), "--wait-for-lock", "100000"])
        #expect(run.status == 64, "\(run.stderr)")
    }
}
