import Glibc
import SBSCore
import StepGraph

/// Where a command's words go: its result to standard output (a table, `--json`, a secret's value: what a script
/// reads), progress and messages to standard error, so that the result stays clean. `StandardStreams` is the real
/// one; tests record.
public protocol CommandOutput: Sendable {
    /// Writes `text` as is (no line break added) to standard output.
    func writeOut(_ text: String)
    /// Writes `text` as is (no line break added) to standard error.
    func writeErr(_ text: String)
}

extension CommandOutput {
    /// One line to standard output.
    public func out(_ line: String) { writeOut(line + "\n") }

    /// One line to standard error.
    public func err(_ line: String) { writeErr(line + "\n") }

    /// One line per step event, to standard error.
    public func show(_ event: StepEvent) {
        switch event {
        case .started(let step, let reason):
            err("▶ \(step.id): \(step.title)" + (reason == "not done yet" ? "" : " (\(reason))"))
        case .succeeded(let step, let seconds): err("✓ \(step.id) (\(decimal(seconds)) s)")
        case .upToDate(let step): err("= \(step.id): up to date")
        case .skipped(let step, let reason): err("– \(step.id): skipped (\(reason))")
        case .failed(let step, let error): err("✗ \(step.id): \(error)")
        case .retrying(let step, let attempt, let total, let error, let delay):
            err("↻ \(step.id): attempt \(attempt) of \(total) failed (\(error)); trying again in \(delay)")
        case .progress(let step, let message): err("  \(step): \(message)")
        }
    }
}

/// The process's standard output and error (descriptors 1 and 2), written with write(2) and no buffer, so that
/// lines of both keep their order and nothing waits in a buffer when sbs exits with `_exit`.
public struct StandardStreams: CommandOutput {
    public init() {}

    public func writeOut(_ text: String) { Self.write(text, to: STDOUT_FILENO) }

    public func writeErr(_ text: String) { Self.write(text, to: STDERR_FILENO) }

    /// Writes all of `text` to the descriptor. A closed pipe (`sbs status | head`) or any other failure ends the
    /// writing quietly: there is nowhere left to say so.
    public static func write(_ text: String, to fd: Int32) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
