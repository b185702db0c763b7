import Foundation
import Processes
import SBSCore
import Testing

/// Polls `condition` on a thread of its own and runs `action` there the moment it holds: a task pool stalled by
/// other tests' blocking calls (seen for 15-30 s on a first run) can then neither make the poll miss a short
/// window nor delay the action past it.
func whenTrue(
    within seconds: Double, _ condition: @escaping @Sendable () -> Bool,
    then action: @escaping @Sendable () -> Void
) async -> Bool {
    await onOwnThread {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() {
                action()
                return true
            }
            usleep(20_000)
        }
        return false
    }
}

/// `fixtureHost` (a copy through `cp -a`, waited for) off the task pool.
func fixtureHostOffThePool(slowSeconds: Int, everyCall: Bool = false) async throws -> String {
    try await onOwnThread { Result { try fixtureHost(slowSeconds: slowSeconds, everyCall: everyCall) } }.get()
}

/// Exit statuses of the built binary: 128 + N for a signal (the state left resumable, the message saying how),
/// 75 for a run refused by the lock, 64 for wrong usage; and the table in `--help`.
@Suite("Signals and exit statuses")
struct SignalAndExitStatusTests {
    /// Starts an install that waits in detect-hardware (a stuck nvidia-smi), sends `signal`, and returns the exit
    /// status and standard error.
    func interruptedInstall(_ signal: Int32, name: String) async throws -> (status: Int32, stderr: String, root: String)
    {
        let root = scratchDirectory(name)
        let host = try await fixtureHostOffThePool(slowSeconds: 60)
        try writeAnswers(root + "/site.yaml")
        let errPath = root + "/stderr.txt"
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: sbsBinary)
        process.arguments = [
            "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
            "--root", root, "--sysroot", host,
        ]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in testEnvironment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        #expect(
            await whenTrue(
                within: 60, { stateStatus(root, "detect-hardware") == "running" }, then: { kill(pid, signal) }))
        // The stuck nvidia-smi (60 s) is stopped with the run rather than waited out (the time limit would end the
        // test otherwise); waited for off the task pool.
        let box = ProcessBox(process)
        await onOwnThread { box.process.waitUntilExit() }
        return (process.terminationStatus, read(errPath) ?? "", root)
    }

    @Test(.timeLimit(.minutes(3)))
    func sigtermEndsTheRunWith143AndLeavesItResumable() async throws {
        let run = try await interruptedInstall(SIGTERM, name: "sigterm")
        #expect(run.status == 143, "\(run.stderr)")
        #expect(run.stderr.contains("sbs resume"), "\(run.stderr)")
        #expect(stateStatus(run.root, "detect-hardware") == "failed")
        let resumed = try await sbs(["resume", "--root", run.root], environment: testEnvironment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(stateStatus(run.root, "write-configs") == "succeeded")
    }

    @Test(.timeLimit(.minutes(3)))
    func sighupIsHandledLikeCtrlCWith129() async throws {
        let run = try await interruptedInstall(SIGHUP, name: "sighup")
        #expect(run.status == 129, "\(run.stderr)")
        #expect(run.stderr.contains("sbs resume"), "\(run.stderr)")
        #expect(stateStatus(run.root, "detect-hardware") == "failed")
        #expect(read(run.root + "/var/lib/sbs/state.json")?.contains("\"lastError\" : \"interrupted\"") == true)
    }

    @Test(.timeLimit(.minutes(3)))
    func aRunRefusedByTheLockExitsWith75() async throws {
        let root = scratchDirectory("lock75")
        let host = try await fixtureHostOffThePool(slowSeconds: 30, everyCall: true)
        try writeAnswers(root + "/site.yaml")
        let arguments = [
            "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
            "--root", root, "--sysroot", host,
        ]
        let first = try startSBS(arguments, environment: testEnvironment)
        defer { kill(first.processIdentifier, SIGKILL) }
        // The second run starts (on the polling thread) the moment the first is inside a step, holding the lock.
        let second = SecondRun()
        let env = testEnvironment
        #expect(
            await whenTrue(
                within: 60, { stateStatus(root, "detect-hardware") == "running" },
                then: {
                    second.set(try? sbsBlocking(arguments, environment: env))
                }))
        let run = try #require(second.run)
        #expect(run.status == 75, "\(run.stderr)")
        #expect(run.stderr.contains("Another sbs run (pid \(first.processIdentifier))"), "\(run.stderr)")
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

/// A Process handed to a waiting thread (only that thread uses it then).
final class ProcessBox: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }
}

/// The result of a run made on another thread.
final class SecondRun: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Run?
    func set(_ run: Run?) { lock.withLock { value = run } }
    var run: Run? { lock.withLock { value } }
}
