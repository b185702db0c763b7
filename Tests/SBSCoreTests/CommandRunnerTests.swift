import Foundation
import Testing
@testable import SBSCore

@Suite struct CommandRunning {
    @Test func outputAndStatusAreCaptured() async throws {
        let result = try await SystemCommandRunner().run(["sh", "-c", "echo out; echo err >&2; exit 4"], timeout: .seconds(30))
        #expect(result == CommandResult(status: 4, stdout: "out\n", stderr: "err\n"))
        #expect(try await SystemCommandRunner().run(["no-such-program-sbs"], timeout: .seconds(5)).status == 127)
    }

    // Without the process-group kill, the shell's child `sleep` would keep the output open for 300 s and the
    // time limit would end the test.
    @Test(.timeLimit(.minutes(1)))
    func aTimeoutEndsTheScriptAndItsChildren() async throws {
        let result = try await SystemCommandRunner().run(["sh", "-c", "sleep 300; echo never"], timeout: .seconds(1))
        #expect(result.timedOut)
        #expect(result.status == 128 + SIGKILL)
        #expect(!result.stdout.contains("never"))
    }

    // A hook that leaves a daemon behind (a service restart) is waited for, not the daemon.
    @Test(.timeLimit(.minutes(1)))
    func anAttachedCommandIsDoneWhenItExitsEvenIfItLeftADaemon() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("sbs-daemon-\(UUID().uuidString)").path
        // The daemon's own output goes to /dev/null so that it cannot hold the test runner's output open.
        let status = try await SystemCommandRunner().runAttached(
            ["sh", "-c", "sh -c 'echo $$ > \(marker); exec sleep 300' >/dev/null 2>&1 & exit 3"])
        #expect(status == 3)
        var daemon: Int32?
        for _ in 0..<200 where daemon == nil {
            daemon = (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if daemon == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        let pid = try #require(daemon, "the daemon never started")
        #expect(kill(pid, 0) == 0, "the daemon should still be running after the hook returned")
        kill(pid, SIGKILL)
    }
}
