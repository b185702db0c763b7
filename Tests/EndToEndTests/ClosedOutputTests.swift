import Foundation
import Processes
import Testing

/// `sbs install … | head -n 2`: the reader of sbs's output goes away. sbs must not die of SIGPIPE half-way
/// (steps left "running" in the state, children orphaned); it finishes the run and exits as it would have.
@Suite struct ClosedOutput {
    @Test func anInstallWhoseReaderWentAwayFinishesAndLeavesNoStepRunning() async throws {
        let root = scratchDirectory("closed-output")
        let host = try await onOwnThread { Result { try fixtureHost() } }.get()
        try writeAnswers(root + "/site.yaml")
        let process = sbsProcess(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try pipe.fileHandleForReading.close()
        try process.run()
        try pipe.fileHandleForWriting.close()
        // Waited for on a thread of its own: a blocked task would hold one of the few threads of the task pool.
        await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationReason == .exit, "sbs was killed by signal \(process.terminationStatus)")
        #expect(process.terminationStatus == 0)
        for step in ["collect-answers", "detect-hardware", "choose-profile", "generate-secrets", "write-configs"] {
            #expect(stateStatus(root, step) == "succeeded", "\(step): \(stateStatus(root, step) ?? "no state")")
        }
    }
}
