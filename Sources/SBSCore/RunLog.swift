import Foundation
import Synchronization

/// Replaces every known secret value in text with `[redacted]`. Secrets shorter than 4 characters are ignored:
/// redacting them would mangle ordinary words.
public struct Redactor: Sendable {
    public private(set) var secrets: [String] = []

    public init(secrets: [String] = []) {
        for secret in secrets { add(secret) }
    }

    public mutating func add(_ secret: String) {
        guard secret.count >= 4, !secrets.contains(secret) else { return }
        secrets.append(secret)
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort { $0.count > $1.count }
    }

    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return result
    }
}

/// The log of one run: `<root>/var/log/sbs/<command>-<UTC time>.log`, appended line by line, secrets redacted.
public final class RunLog: Sendable {
    public let path: String
    private let state: Mutex<(handle: FileHandle?, redactor: Redactor)>

    /// Opens (creating) the log file. The folder is 0750 and the file 0640: a log may name hosts and users.
    public init(layout: Layout, command: String, date: Date = Date()) throws(UserError) {
        try AtomicFile.makeDirectories(layout.logDir, mode: 0o750)
        var format = Date.ISO8601FormatStyle(timeZone: .gmt)
        format = format.dateSeparator(.omitted).timeSeparator(.omitted)
        let stamp = date.formatted(format)
        path = "\(layout.logDir)/\(command)-\(stamp).log"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw AtomicFile.systemError("open", path) }
        fchmod(fd, 0o640)
        state = Mutex((FileHandle(fileDescriptor: fd, closeOnDealloc: true), Redactor()))
    }

    /// A log that writes nowhere (commands that keep no log).
    public init() {
        path = "/dev/null"
        state = Mutex((nil, Redactor()))
    }

    /// From now on, `secret` never reaches the file.
    public func addSecret(_ secret: String) {
        state.withLock { $0.redactor.add(secret) }
    }

    public func redact(_ text: String) -> String {
        state.withLock { $0.redactor.redact(text) }
    }

    /// Appends one line, prefixed with the UTC time and, when given, the step id.
    public func write(_ message: String, step: String? = nil) {
        let stamp = Date().formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
        state.withLock { state in
            let text = state.redactor.redact(message)
            let prefix = step.map { "\(stamp) [\($0)] " } ?? "\(stamp) "
            var lines = ""
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                lines += prefix + line + "\n"
            }
            state.handle?.write(Data(lines.utf8))
        }
    }
}
