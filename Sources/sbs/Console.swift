import Foundation
import SBSCore
import StepGraph

/// What the commands print. Progress goes to standard error so that `--json` output stays clean.
enum Console {
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// One line per step event.
    static func show(_ event: StepEvent) {
        switch event {
        case .started(let step, let reason):
            err("▶ \(step.id): \(step.title)" + (reason == "not done yet" ? "" : " (\(reason))"))
        case .succeeded(let step, let seconds): err("✓ \(step.id) (\(String(format: "%.1f", seconds)) s)")
        case .upToDate(let step): err("= \(step.id): up to date")
        case .skipped(let step, let reason): err("– \(step.id): skipped (\(reason))")
        case .failed(let step, let error): err("✗ \(step.id): \(error)")
        case .retrying(let step, let attempt, let total, let error, let delay):
            err("↻ \(step.id): attempt \(attempt) of \(total) failed (\(error)); trying again in \(delay)")
        case .progress(let step, let message): err("  \(step): \(message)")
        }
    }
}
