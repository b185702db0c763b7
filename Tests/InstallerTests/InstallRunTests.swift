import Foundation
import Processes
import SBSCore
import StepGraph
import Synchronization
import TestSupport
import Testing

@testable import Installer

/// `sbs install` and `sbs resume` in this process: the steps that need no Docker, on a fixture host, with every
/// host command scripted (an unexpected one fails the test) and every line the run says recorded.
@Suite struct InstallRunReporting {
    static let hosts =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/Fixtures/hosts"

    /// What detection runs on vm-16g-no-gpu (a fixture without nvidia-smi or docker), and generate-secrets' look
    /// for an existing database volume, answered with `volumeExists`.
    static func hostCommands(root: String, volumeExists: Bool) -> [[String]: CommandResult] {
        let volume = InstallInputs.project(layout: Layout(root: root), answers: nil).volume("postgres_data")
        return [
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]: .notFound,
            ["docker", "--version"]: .notFound,
            ["docker", "volume", "inspect", volume]: volumeExists
                ? CommandResult(status: 0, stdout: "[{\"Name\": \"\(volume)\"}]\n", stderr: "")
                : CommandResult(
                    status: 1, stdout: "[]\n", stderr: "Error response from daemon: get \(volume): no such volume\n"),
        ]
    }

    /// A root with an answers file in it, and the run of `sbs install --answers FILE --non-interactive --through
    /// write-configs --root ROOT --sysroot vm-16g-no-gpu`.
    static func prepare() throws -> (root: String, invocation: InstallInvocation) {
        let root = try Scratch.folder("install-run")
        let answers = root + "/site.yaml"
        try """
        version: 1
        domain: shop.example.test
        admin_email: admin@example.test
        tls:
          mode: acme
        secrets:
          anthropic_api_key: sk-test-anthropic-0042
        checks:
          dns: skip
        """.write(toFile: answers, atomically: true, encoding: .utf8)
        return (
            root,
            InstallInvocation(
                command: "install", answersFile: answers, interactive: false,
                sysroot: hosts + "/vm-16g-no-gpu", assets: nil)
        )
    }

    fileprivate static func run(
        root: String, invocation: InstallInvocation, runner: FailClosedRunner, output: RecordedOutput,
        interruptions: any RunInterruptions = NoSignals()
    ) -> InstallRun {
        let session = InstallSession(
            layout: Layout(root: root), sysroot: invocation.sysroot, assetsDirectory: nil,
            commands: runner, output: output)
        return InstallRun(
            session: session, interruptions: interruptions,
            terminal: {
                Issue.record("the wizard opened a terminal in a non-interactive run")
                throw UserError("no terminal in tests")
            })
    }

    static let throughWriteConfigs = [
        "collect-answers", "detect-hardware", "choose-profile", "generate-secrets", "write-configs",
    ]

    @Test func aThroughRunSaysWhatRanAndWhereTheStateIs() async throws {
        let (root, invocation) = try Self.prepare()
        let runner = FailClosedRunner(Self.hostCommands(root: root, volumeExists: false))
        let output = RecordedOutput()
        let ending = try await Self.run(root: root, invocation: invocation, runner: runner, output: output)
            .install(scope: invocation.scope(through: "write-configs"), invocation: invocation)

        #expect(ending == .completed(ran: 5))
        let err = output.errLines
        #expect(err.first?.hasPrefix("Log: \(root)/var/log/sbs/install-") == true, "\(err)")
        for step in Self.throughWriteConfigs {
            #expect(err.contains { $0.hasPrefix("▶ \(step): ") }, "no start line for \(step): \(err)")
            #expect(
                err.contains { $0.hasPrefix("✓ \(step) (") && $0.hasSuffix(" s)") },
                "no success line for \(step): \(err)")
        }
        #expect(err.contains { $0.hasPrefix("  generate-secrets: generated ") }, "\(err)")
        #expect(
            !err.contains { $0.contains("preflight") || $0.contains("ensure-docker") },
            "a step outside the scope was reported: \(err)")
        #expect(
            Array(err.suffix(2)) == [
                "Done through write-configs: 5 steps ran, the rest were up to date or skipped.",
                "State: \(root)/var/lib/sbs/state.json",
            ])
        // A run that stops short of the whole graph prints no summary on standard output.
        #expect(output.outLines.isEmpty, "\(output.outLines)")
        #expect(runner.unexpected.isEmpty)
        #expect(
            runner.calls.contains([
                "docker", "volume", "inspect",
                InstallInputs.project(layout: Layout(root: root), answers: nil).volume("postgres_data"),
            ]))

        // Again: only detect-hardware (which reads the host on every run) runs; the rest are up to date.
        let again = RecordedOutput()
        let second = try await Self.run(root: root, invocation: invocation, runner: runner, output: again)
            .install(scope: invocation.scope(through: "write-configs"), invocation: invocation)
        #expect(second == .completed(ran: 1))
        for step in ["collect-answers", "choose-profile", "generate-secrets", "write-configs"] {
            #expect(again.errLines.contains("= \(step): up to date"), "\(again.errLines)")
        }
        #expect(
            again.errLines.contains("Done through write-configs: 1 step ran, the rest were up to date or skipped."),
            "\(again.errLines)")
    }

    @Test func aFailedStepNamesItselfTheLogAndTheResumeCommandThenResumeFinishes() async throws {
        let (root, invocation) = try Self.prepare()
        // A database volume exists while no secrets are kept: generate-secrets refuses to make new ones.
        let output = RecordedOutput()
        let ending = try await Self.run(
            root: root, invocation: invocation,
            runner: FailClosedRunner(Self.hostCommands(root: root, volumeExists: true)), output: output
        )
        .install(scope: invocation.scope(through: "write-configs"), invocation: invocation)

        #expect(ending == .failed(step: "generate-secrets"))
        #expect(ending.exitStatus == 1)
        let err = output.errLines
        let log = try #require(err.first { $0.hasPrefix("Log: ") })
        let failure = try #require(err.firstIndex { $0.hasPrefix("Step generate-secrets failed: ") }, "\(err)")
        #expect(err[failure - 1] == "", "the failure is set apart by an empty line: \(err)")
        #expect(
            err[failure + 1].hasPrefix("  → Restore \(root)/etc/sbs/secrets.env from a backup."),
            "the error's remedy follows it: \(err)")
        #expect(
            Array(err.suffix(3)) == [
                log,
                "Fix the cause, then run `sbs resume --root \(root)` to continue from generate-secrets with the same answers.",
                "If the answers were the cause, run `sbs install --root \(root) --answers FIXED.yaml` instead: only the steps the changed answers affect run again.",
            ])
        #expect(err.contains { $0.hasPrefix("✗ generate-secrets: ") }, "\(err)")
        #expect(!err.contains { $0.hasPrefix("Done") || $0.hasPrefix("▶ write-configs") }, "\(err)")
        #expect(output.outLines.isEmpty)
        let detected = try #require(err.first { $0.hasPrefix("  detect-hardware: ") && $0.contains("GiB memory") })

        // Steps beside generate-secrets may or may not have finished before it failed (they run concurrently).
        let state = try #require(try StateStore(layout: Layout(root: root)).load())
        let finished = Set(
            Self.throughWriteConfigs.filter { state[$0].status == .succeeded && $0 != "detect-hardware" })
        #expect(!finished.contains("generate-secrets") && !finished.contains("write-configs"))
        #expect(finished.contains("collect-answers"))

        // The cause gone (no volume), `sbs resume` runs what had not finished, and the host read again.
        let resumed = RecordedOutput()
        let runner = FailClosedRunner(Self.hostCommands(root: root, volumeExists: false))
        let second = try await Self.run(root: root, invocation: InstallInvocation(), runner: runner, output: resumed)
            .resume(sysroot: nil, assets: nil)
        let toRun = Self.throughWriteConfigs.count - finished.count
        #expect(second == .completed(ran: toRun), "\(resumed.errLines)")
        #expect(resumed.errLines.first?.hasPrefix("Log: \(root)/var/log/sbs/resume-") == true, "\(resumed.errLines)")
        #expect(resumed.errLines.contains("= collect-answers: up to date"))
        for step in finished { #expect(resumed.errLines.contains("= \(step): up to date"), "\(resumed.errLines)") }
        #expect(resumed.errLines.contains { $0.hasPrefix("✓ write-configs (") })
        #expect(
            resumed.errLines.contains(
                "Done through write-configs: \(toRun) steps ran, the rest were up to date or skipped."),
            "\(resumed.errLines)")
        // The recorded fixture host was read again (this machine's own /proc says otherwise).
        #expect(resumed.errLines.contains(detected), "\(detected) / \(resumed.errLines)")
        #expect(runner.unexpected.isEmpty)
    }

    @Test func anInterruptedRunSaysSoAndHowToContinue() async throws {
        let (root, invocation) = try Self.prepare()
        let signals = ManualSignals()
        // The signal arrives while detect-hardware waits on nvidia-smi.
        let runner = FailClosedRunner(Self.hostCommands(root: root, volumeExists: false)) { argv in
            if argv.first == "nvidia-smi" { signals.send() }
        }
        let output = RecordedOutput()
        let ending = try await Self.run(
            root: root, invocation: invocation, runner: runner, output: output, interruptions: signals
        )
        .install(scope: invocation.scope(through: "write-configs"), invocation: invocation)

        guard case .interrupted = ending else {
            Issue.record("not interrupted: \(ending), \(output.errLines)")
            return
        }
        #expect(ending.exitStatus == 130)
        let err = output.errLines
        #expect(err.contains("Interrupting: finishing the state of the running steps…"), "\(err)")
        #expect(err.contains { $0.hasPrefix("Interrupted") && $0.hasSuffix(". Nothing finished was lost.") }, "\(err)")
        #expect(err.last == "Run `sbs resume --root \(root)` to continue.", "\(err)")
        #expect(!err.contains { $0.hasPrefix("Done") })
        let state = try #require(try StateStore(layout: Layout(root: root)).load())
        #expect(state["detect-hardware"].status == .failed)
        #expect(state["write-configs"].status != .succeeded)
    }

    @Test func aRunWithAnUnknownStepIsRefusedBeforeAnythingIsWritten() async throws {
        let (root, invocation) = try Self.prepare()
        let output = RecordedOutput()
        await #expect(throws: (any Error).self) {
            _ = try await Self.run(root: root, invocation: invocation, runner: FailClosedRunner([:]), output: output)
                .install(scope: invocation.scope(through: "write-config"), invocation: invocation)
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs"))
        #expect(output.errLines.isEmpty && output.outLines.isEmpty)
    }
}

extension CommandResult {
    /// What a shell says of a program that is not installed.
    fileprivate static let notFound = CommandResult(status: 127, stdout: "", stderr: "")
}

/// Every line a command writes, by stream.
fileprivate final class RecordedOutput: CommandOutput {
    private let text = Mutex((out: "", err: ""))

    func writeOut(_ text: String) { self.text.withLock { $0.out += text } }
    func writeErr(_ text: String) { self.text.withLock { $0.err += text } }

    var outLines: [String] { Self.lines(text.withLock { $0.out }) }
    var errLines: [String] { Self.lines(text.withLock { $0.err }) }

    static func lines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}

/// Answers exactly the command lines it was given; any other fails the test (and the step that ran it).
fileprivate final class FailClosedRunner: CommandRunner {
    let answers: [[String]: CommandResult]
    let onCall: @Sendable ([String]) -> Void
    private let log = Mutex((calls: [[String]](), unexpected: [[String]]()))

    init(_ answers: [[String]: CommandResult], onCall: @escaping @Sendable ([String]) -> Void = { _ in }) {
        self.answers = answers
        self.onCall = onCall
    }

    var calls: [[String]] { log.withLock { $0.calls } }
    var unexpected: [[String]] { log.withLock { $0.unexpected } }

    func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult {
        onCall(argv)
        guard let result = answers[argv] else {
            log.withLock { $0.unexpected.append(argv) }
            Issue.record("unexpected command: \(argv)")
            throw UserError("unexpected command in a test: \(argv.joined(separator: " "))")
        }
        log.withLock { $0.calls.append(argv) }
        return result
    }
}

/// No signal ever arrives.
fileprivate struct NoSignals: RunInterruptions {
    func onInterrupt(_ handler: @escaping @Sendable () -> Void) {}
}

/// A signal the test sends, delivered as `Interruption` delivers one: to the handlers registered, and at once to
/// one registered after it arrived.
fileprivate final class ManualSignals: RunInterruptions {
    private let state = Mutex((sent: false, handlers: [@Sendable () -> Void]()))

    func onInterrupt(_ handler: @escaping @Sendable () -> Void) {
        let sent = state.withLock { state in
            state.handlers.append(handler)
            return state.sent
        }
        if sent { handler() }
    }

    func send() {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            if state.sent { return [] }
            state.sent = true
            return state.handlers
        }
        for handler in handlers { handler() }
    }
}
