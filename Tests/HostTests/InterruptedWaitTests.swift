import Foundation
@testable import Host
import Testing

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
            await Preflight().waitForPackageManagerLock(probe: AlwaysHeld(), pollInterval: .seconds(2)) { _ in }
        }
        try await Task.sleep(for: .milliseconds(200))
        wait.cancel()
        let result = await wait.value
        #expect(result.status == .fail)
        #expect(result.detail.contains("Interrupted while waiting for the package manager"), "\(result.detail)")
    }
}
