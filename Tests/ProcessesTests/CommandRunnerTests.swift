import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Processes

@Suite struct CommandRunning {
    @Test func outputAndStatusAreCaptured() async throws {
        let result = try await SystemCommandRunner().run(
            ["sh", "-c", "echo out; echo err >&2; exit 4"], timeout: .seconds(30))
        #expect(result == CommandResult(status: 4, stdout: "out\n", stderr: "err\n"))
        #expect(try await SystemCommandRunner().run(["no-such-program-sbs"], timeout: .seconds(5)).status == 127)
    }

    // Without the process-group signal, the shell's child `sleep` would keep the output open for 300 s and the
    // time limit would end the test. TERM comes first (apt and dpkg clean up on it).
    @Test(.timeLimit(.minutes(1)))
    func aTimeoutEndsTheScriptAndItsChildrenWithTERM() async throws {
        let result = try await SystemCommandRunner().run(["sh", "-c", "sleep 300; echo never"], timeout: .seconds(1))
        #expect(result.timedOut)
        #expect(result.status == 128 + SIGTERM)
        #expect(!result.stdout.contains("never"))
    }

    // A command that ignores TERM (its children inherit that) is killed once the grace period is over.
    @Test(.timeLimit(.minutes(1)))
    func aCommandThatIgnoresTERMIsKilledAfterTheGrace() async throws {
        let runner = SystemCommandRunner(terminationGrace: .milliseconds(500))
        let result = try await runner.run(
            ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], timeout: .seconds(1))
        #expect(result.timedOut)
        #expect(result.status == 128 + SIGKILL)
        #expect(result.stdout == "ready\n")
    }

    // `setsid daemon &` keeps the output open after the command itself has exited (a fixture nvidia-smi once did,
    // `service x start` does): the command is done when it exits; the daemon's end of the output is given up after
    // a short drain. Reading to end-of-file first would wait the daemon's 300 s and the time limit would end the test.
    @Test(.timeLimit(.minutes(1)))
    func aChildThatDetachesDoesNotHoldTheRunOpen() async throws {
        let daemon = DaemonMarker()
        defer { daemon.kill() }
        let result = try await SystemCommandRunner().run(
            ["sh", "-c", "setsid sh -c 'echo $$ > \(daemon.path); exec sleep 300' & echo started"],
            timeout: .seconds(30))
        #expect(result == CommandResult(status: 0, stdout: "started\n", stderr: ""))
        #expect(try await daemon.pid() != nil, "the detached daemon should have started")
    }

    // The same daemon behind a command that itself runs past its timeout: TERM ends the command, and the run returns
    // although the daemon (in a session of its own, out of reach of the group signal) still holds the output.
    @Test(.timeLimit(.minutes(1)))
    func aTimedOutCommandWithADetachedChildReturns() async throws {
        let daemon = DaemonMarker()
        defer { daemon.kill() }
        let result = try await SystemCommandRunner().run(
            ["sh", "-c", "setsid sh -c 'echo $$ > \(daemon.path); exec sleep 300' & sleep 300"], timeout: .seconds(1))
        #expect(try await daemon.pid() != nil, "the detached daemon should have started")
        #expect(result.timedOut)
        #expect(result.status == 128 + SIGTERM)
    }

    // The verdict does not depend on the caller's executor: a command that answered at once is not "timed out"
    // because the executor was busy for longer than the timeout. (The runner used to keep its time limit on a
    // Dispatch timer and read through task-pool jobs; after a stall of the shared pools, whichever ran first
    // decided the verdict.)
    @Test(.timeLimit(.minutes(1)))
    func aBusyExecutorDoesNotTurnAnAnswerIntoATimeout() async throws {
        let executor = BlockableExecutor()
        let result = try await withTaskExecutorPreference(executor) {
            // Runs on the executor as soon as the call below suspends: the executor is then busy for 3 s.
            executor.queue.async { sleep(3) }
            return try await SystemCommandRunner().run(["sh", "-c", "echo answered"], timeout: .seconds(1))
        }
        #expect(result == CommandResult(status: 0, stdout: "answered\n", stderr: ""))
    }

    // Ctrl-C (the task cancelled) stops the command at once with TERM instead of waiting it out.
    @Test(.timeLimit(.minutes(1)))
    func cancellingTheRunStopsTheCommand() async throws {
        let task = Task {
            try await SystemCommandRunner().run(["sh", "-c", "echo started; sleep 300"], timeout: .seconds(600))
        }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        let result = try await task.value
        #expect(result.status == 128 + SIGTERM)
        #expect(!result.timedOut)
    }

    // A command that prints without end fills no memory: past the bound its output is read and dropped.
    @Test(.timeLimit(.minutes(1)))
    func outputIsBounded() async throws {
        var runner = SystemCommandRunner()
        runner.maxOutputBytes = 1 << 20
        let result = try await runner.run(
            ["sh", "-c", "head -c 5000000 /dev/zero; echo done >&2"], timeout: .seconds(30))
        #expect(result.status == 0)
        #expect(result.stdout.utf8.count == 1 << 20)
        #expect(result.stderr == "done\n")
    }

    // Children see PATH, HOME, the locale and what the caller names: not the rest of sbs's environment, where the
    // variables that `env:` secrets came from live.
    @Test func childrenGetAMinimalEnvironment() async throws {
        let own = Set(ProcessInfo.processInfo.environment.keys)
        let allowed = Set(SystemCommandRunner.inheritedVariables + ["SBS_NEEDED"])
        try #require(!own.subtracting(allowed).isEmpty, "the test process has only allowed variables")
        let result = try await SystemCommandRunner(environment: ["SBS_NEEDED": "yes"]).run(
            ["env"], timeout: .seconds(30))
        let names = Set(
            result.stdout.split(separator: "\n").compactMap {
                $0.split(separator: "=", maxSplits: 1).first.map(String.init)
            })
        #expect(names.isSubset(of: allowed), "unexpected: \(names.subtracting(allowed).sorted())")
        #expect(result.stdout.contains("SBS_NEEDED=yes\n"))
        #expect(names.contains("PATH"))
    }

    // A hook that leaves a daemon behind (a service restart) is waited for, not the daemon.
    @Test(.timeLimit(.minutes(1)))
    func anAttachedCommandIsDoneWhenItExitsEvenIfItLeftADaemon() async throws {
        let marker = Scratch.path("daemon")
        // The daemon's own output goes to /dev/null so that it cannot hold the test runner's output open.
        let status = try await SystemCommandRunner().runAttached(
            ["sh", "-c", "sh -c 'echo $$ > \(marker); exec sleep 300' >/dev/null 2>&1 & exit 3"])
        #expect(status == 3)
        var daemon: Int32?
        for _ in 0..<200 where daemon == nil {
            daemon = (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap {
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if daemon == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        let pid = try #require(daemon, "the daemon never started")
        #expect(kill(pid, 0) == 0, "the daemon should still be running after the hook returned")
        kill(pid, SIGKILL)
    }
}

/// Where a test's daemon writes its pid, and the means to stop it afterwards.
final class DaemonMarker: Sendable {
    let path = Scratch.path("daemon")

    func pid() async throws -> Int32? {
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return pid
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    func kill() {
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            Foundation.kill(pid, SIGKILL)
        }
        unlink(path)
    }
}

/// A task executor on one serial queue that a test can keep busy, standing in for a task pool whose threads are
/// held by blocking calls elsewhere in the process.
final class BlockableExecutor: TaskExecutor, @unchecked Sendable {
    let queue = DispatchQueue(label: "sbs.test.blockable-executor")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

@Suite struct BlockingCallsOffThePool {
    // A blocking call that cannot be interrupted (getaddrinfo on a dead resolver) does not hold up Ctrl-C: the
    // caller goes on with CancellationError; the thread ends on its own.
    @Test(.timeLimit(.minutes(1)))
    func aCancelledWaitReturnsAtOnce() async throws {
        let task = Task {
            try await onOwnThreadUnlessCancelled {
                sleep(90)
                return 1
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(try await onOwnThreadUnlessCancelled { 42 } == 42)
    }
}
