import FoundationEssentials
import Glibc
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
            result = result.replacing(secret, with: "[redacted]")
        }
        return result
    }
}

/// The log of one run: `<root>/var/log/sbs/<command>-<UTC time>.log`, appended line by line, secrets redacted.
///
/// A log that cannot be written (a full `/var/log`) never crashes the run: the first failure is reported once on
/// standard error, naming the file and the reason, `failure` keeps it, and the run goes on without a log.
public final class RunLog: Sendable {
    public let path: String
    private let state: Mutex<(fd: Int32, redactor: Redactor, failure: UserError?)>
    /// Where the one-time notice of a failed write goes (standard error; tests swap it).
    private let notice: @Sendable (String) -> Void

    /// Opens (creating) the log file. The folder is 0750 and the file 0640: a log may name hosts and users.
    public init(
        layout: Layout, command: String, date: Date = Date(),
        notice: @escaping @Sendable (String) -> Void = RunLog.standardError
    ) throws(UserError) {
        try layout.checkTrusted()
        try AtomicFile.makeDirectories(layout.logDir, mode: 0o750)
        var format = Date.ISO8601FormatStyle(timeZone: .gmt)
        format = format.dateSeparator(.omitted).timeSeparator(.omitted)
        let stamp = date.formatted(format)
        path = "\(layout.logDir)/\(command)-\(stamp).log"
        // Never through a link, never blocking on a FIFO: the log is a file sbs makes.
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o640)
        guard fd >= 0 else { throw AtomicFile.systemError("open", path) }
        fchmod(fd, 0o640)
        state = Mutex((fd, Redactor(), nil))
        self.notice = notice
    }

    /// Opens `path` itself (appending), for tests of a log on a given file system.
    public init(path: String, notice: @escaping @Sendable (String) -> Void = RunLog.standardError) throws(UserError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw AtomicFile.systemError("open", path) }
        self.path = path
        state = Mutex((fd, Redactor(), nil))
        self.notice = notice
    }

    deinit {
        state.withLock { if $0.fd >= 0 { close($0.fd) } }
    }

    public static let standardError: @Sendable (String) -> Void = { text in
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBufferPointer { Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// The first write that failed, if any (then nothing more was written).
    public var failure: UserError? { state.withLock { $0.failure } }

    /// A log that writes nowhere (commands that keep no log).
    public init() {
        path = "/dev/null"
        state = Mutex((-1, Redactor(), nil))
        notice = { _ in }
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
        let failed: UserError? = state.withLock { state in
            guard state.fd >= 0, state.failure == nil else { return nil }
            let text = state.redactor.redact(message)
            let prefix = step.map { "\(stamp) [\($0)] " } ?? "\(stamp) "
            var lines = ""
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                lines += prefix + line + "\n"
            }
            let bytes = Array(lines.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBufferPointer {
                    Glibc.write(state.fd, $0.baseAddress! + offset, $0.count - offset)
                }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    let error = AtomicFile.systemError("write", path)
                    state.failure = UserError(
                        "The run log \(path) cannot be written (\(error.message)); the run goes on without it.",
                        remedy: "Free space where the log lives (df -h \(AtomicFile.parentDirectory(of: path))).")
                    return state.failure
                }
                offset += n
            }
            return nil
        }
        if let failed { notice("sbs: warning: \(failed)") }
    }
}
