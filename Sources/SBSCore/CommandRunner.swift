import Foundation

/// What a finished command left behind.
public struct CommandResult: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// True when the command was killed because it ran past its timeout.
    public var timedOut: Bool

    public init(status: Int32, stdout: String, stderr: String, timedOut: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
    }
}

/// Runs external programs (nvidia-smi, lspci, docker, nginx …). Tests swap in a runner that looks programs up in a
/// fixture tree; the real one is `SystemCommandRunner`.
public protocol CommandRunner: Sendable {
    /// Runs `argv` (argv[0] looked up in PATH unless it contains a slash) and waits for it, at most `timeout`.
    /// - Returns: the exit status and output; a program that cannot be found gives status 127 (as a shell does).
    /// - Throws: `UserError` only when the process could not be started for another reason (fork/exec failure).
    func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult
}

/// Runs programs with Foundation's `Process`, looked up in `searchPath` (the PATH by default).
public struct SystemCommandRunner: CommandRunner {
    public var searchPath: [String]

    public init(searchPath: [String]? = nil) {
        self.searchPath = searchPath
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .split(separator: ":").map(String.init)
    }

    public func locate(_ program: String) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        for dir in searchPath {
            let candidate = dir + "/" + program
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult {
        guard let program = argv.first else { throw UserError("No command given.") }
        guard let path = locate(program) else {
            return CommandResult(status: 127, stdout: "", stderr: "\(program): command not found")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Array(argv.dropFirst())
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw UserError("Could not start \(path): \(error)")
        }
        let timedOut = TimeoutFlag()
        let pid = process.processIdentifier
        // The watchdog runs on a Dispatch timer, not in the task pool, so a busy pool cannot delay the kill.
        let watchdog = DispatchWorkItem {
            timedOut.set()
            kill(pid, SIGKILL)
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
        // Read both pipes to the end on their own threads so a chatty program cannot block on a full pipe.
        async let stdoutData = Self.readAll(out.fileHandleForReading)
        async let stderrData = Self.readAll(err.fileHandleForReading)
        let (o, e) = await (stdoutData, stderrData)
        process.waitUntilExit()
        watchdog.cancel()
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self),
            timedOut: timedOut.isSet
        )
    }

    static func readAll(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: handle.readDataToEndOfFile())
            }
        }
    }
}

final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
