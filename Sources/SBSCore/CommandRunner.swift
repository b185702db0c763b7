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

/// Runs programs (posix_spawn, each in a process group of its own), looked up in `searchPath` (the PATH by
/// default).
public struct SystemCommandRunner: CommandRunner {
    public var searchPath: [String]

    public init(searchPath: [String]? = nil) {
        self.searchPath = searchPath
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .split(separator: ":").map(String.init)
    }

    static let watchdogs = DispatchQueue(label: "sbs.command-watchdog")

    /// Runs `argv` with the caller's standard output and error (a hook a person watches, such as
    /// `sbs renew --post-renew`) and waits for it, however long it takes.
    /// - Returns: its exit status (127 when it cannot be found, 128 + signal when killed).
    /// - Throws: `UserError` when it cannot be started.
    public func runAttached(_ argv: [String]) async throws(UserError) -> Int32 {
        guard let program = argv.first else { throw UserError("No command given.") }
        guard let path = locate(program) else { return 127 }
        return await (try SpawnedProcess(path: path, argv: argv, capture: false)).finish().2
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
        let child = try SpawnedProcess(path: path, argv: argv)
        let timedOut = TimeoutFlag()
        // The watchdog runs on a private queue's timer, so neither a busy task pool nor blocked global queues delay
        // the kill. The whole process group goes: a script's own children (`sleep` in a wrapper) would keep the
        // pipes open.
        let watchdog = DispatchWorkItem {
            timedOut.set()
            child.killGroup()
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        SystemCommandRunner.watchdogs.asyncAfter(deadline: .now() + seconds, execute: watchdog)
        // Interrupting the run (Ctrl-C) ends the program too, rather than waiting it out.
        let (out, err, status) = await withTaskCancellationHandler {
            await child.finish()
        } onCancel: {
            child.killGroup()
        }
        watchdog.cancel()
        return CommandResult(status: status, stdout: String(decoding: out, as: UTF8.self),
                             stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut.isSet)
    }
}

/// A child started with posix_spawn: captured ones run in a process group of their own with standard output and
/// error on socket pairs; attached ones share the caller's terminal and process group.
final class SpawnedProcess: Sendable {
    let pid: pid_t
    let stdoutFD: Int32
    let stderrFD: Int32

    /// - Parameter capture: false leaves standard output and error to the caller's (a command a person watches,
    ///   which may start daemons that keep them open).
    init(path: String, argv: [String], capture: Bool = true) throws(UserError) {
        // Socket pairs rather than pipes: created close-on-exec in one call (pipe2 is not visible from Swift), so no
        // child that another thread starts meanwhile inherits them and holds them open past this one's exit.
        // dup2 in the child clears the flag on its own copies.
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if capture {
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            guard socketpair(AF_UNIX, type, 0, &out) == 0 else { throw AtomicFile.systemError("socketpair", path) }
            guard socketpair(AF_UNIX, type, 0, &err) == 0 else {
                close(out[0]); close(out[1])
                throw AtomicFile.systemError("socketpair", path)
            }
            posix_spawn_file_actions_adddup2(&actions, out[1], 1)
            posix_spawn_file_actions_adddup2(&actions, err[1], 2)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }
        var pid: pid_t = 0
        var result = posix_spawn(&pid, path, &actions, &attributes, &cArgs, environ)
        // ETXTBSY: a program written a moment ago can still be open for writing in a child another thread just
        // forked; that copy closes at its exec.
        for _ in 0..<20 where result == ETXTBSY {
            usleep(50_000)
            result = posix_spawn(&pid, path, &actions, &attributes, &cArgs, environ)
        }
        if capture { close(out[1]); close(err[1]) }
        guard result == 0 else {
            if capture { close(out[0]); close(err[0]) }
            errno = result
            throw AtomicFile.systemError("spawn", path)
        }
        self.pid = pid
        stdoutFD = out[0]
        stderrFD = err[0]
    }

    func killGroup() {
        kill(-pid, SIGKILL)
    }

    /// Reads both pipes to the end and reaps the child, each on a thread of its own (blocking calls stay out of
    /// the task pool). - Returns: its output, and its exit status (128 + signal when killed).
    func finish() async -> ([UInt8], [UInt8], Int32) {
        async let out = stdoutFD < 0 ? [] : Self.readAll(stdoutFD)
        async let err = stderrFD < 0 ? [] : Self.readAll(stderrFD)
        let (o, e) = await (out, err)
        let pid = self.pid
        let status = await onOwnThread {
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            let signal = raw & 0x7f
            return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        }
        return (o, e, status)
    }

    static func readAll(_ fd: Int32) async -> [UInt8] {
        await onOwnThread {
            var result: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                result.append(contentsOf: buffer[0..<n])
            }
            close(fd)
            return result
        }
    }
}

final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
