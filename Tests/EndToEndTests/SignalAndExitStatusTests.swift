import Foundation
import Testing

/// Exit statuses of the built binary: 128 + N for a signal (the state left resumable, the message saying how),
/// 75 for a run refused by the lock, 64 for wrong usage; and the table in `--help`.
@Suite("Signals and exit statuses")
struct SignalAndExitStatusTests {
    /// Starts an install that waits in detect-hardware (a stuck nvidia-smi), sends `signal`, and returns the exit
    /// status and standard error.
    func interruptedInstall(_ signal: Int32, name: String) async throws -> (status: Int32, stderr: String, root: String) {
        let root = scratchDirectory(name)
        let host = try fixtureHost(slowSeconds: 60)
        try writeAnswers(root + "/site.yaml")
        let errPath = root + "/stderr.txt"
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: sbsBinary)
        process.arguments = ["install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
                             "--root", root, "--sysroot", host]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in testEnvironment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        #expect(await waitFor(20) { stateStatus(root, "detect-hardware") == "running" })
        kill(process.processIdentifier, signal)
        // The stuck nvidia-smi (60 s) is stopped with the run rather than waited out.
        #expect(await waitFor(30) { !process.isRunning })
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, read(errPath) ?? "", root)
    }

    @Test func sigtermEndsTheRunWith143AndLeavesItResumable() async throws {
        let run = try await interruptedInstall(SIGTERM, name: "sigterm")
        #expect(run.status == 143, "\(run.stderr)")
        #expect(run.stderr.contains("sbs resume"), "\(run.stderr)")
        #expect(stateStatus(run.root, "detect-hardware") == "failed")
        let resumed = try await sbs(["resume", "--root", run.root], environment: testEnvironment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(stateStatus(run.root, "write-configs") == "succeeded")
    }

    @Test func sighupIsHandledLikeCtrlCWith129() async throws {
        let run = try await interruptedInstall(SIGHUP, name: "sighup")
        #expect(run.status == 129, "\(run.stderr)")
        #expect(run.stderr.contains("sbs resume"), "\(run.stderr)")
        #expect(stateStatus(run.root, "detect-hardware") == "failed")
        #expect(read(run.root + "/var/lib/sbs/state.json")?.contains("\"lastError\" : \"interrupted\"") == true)
    }

    @Test func aRunRefusedByTheLockExitsWith75() async throws {
        let root = scratchDirectory("lock75")
        let host = try fixtureHost(slowSeconds: 30, everyCall: true)
        try writeAnswers(root + "/site.yaml")
        let arguments = ["install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
                         "--root", root, "--sysroot", host]
        let first = try startSBS(arguments, environment: testEnvironment)
        defer { kill(first.processIdentifier, SIGKILL) }
        #expect(await waitFor(20) { stateStatus(root, "detect-hardware") == "running" })
        let second = try await sbs(arguments, environment: testEnvironment)
        #expect(second.status == 75, "\(second.stderr)")
        #expect(second.stderr.contains("Another sbs run (pid \(first.processIdentifier))"), "\(second.stderr)")
    }

    @Test func wrongUsageExitsWith64AndHelpListsTheStatuses() async throws {
        let wrong = try await sbs(["install", "--no-such-option"])
        #expect(wrong.status == 64, "\(wrong.stderr)")
        let help = try await sbs(["--help"])
        #expect(help.status == 0)
        let text = help.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        for phrase in ["Exit status: 0", "75 refused", "130 Ctrl-C", "129 SIGHUP", "143 SIGTERM", "sbs resume"] {
            #expect(text.contains(phrase), "--help lacks '\(phrase)': \(help.stdout)")
        }
    }
}
