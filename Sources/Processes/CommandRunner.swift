import FoundationEssentials
import Glibc
import SBSCore

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

/// A runner that also connects two programs, the first one's output into the second one's input (see
/// `SystemCommandRunner.runPipeline`).
public protocol PipelineRunner: CommandRunner {
    func runPipeline(_ producer: [String], into consumer: [String], timeout: Duration)
        async throws(UserError) -> PipelineResult
}

/// The exit status and output of each side of a pipeline.
public struct PipelineResult: Sendable, Equatable {
    public var producer: CommandResult
    public var consumer: CommandResult
}

/// Runs programs (posix_spawn, each in a process group of its own), looked up in `searchPath` (the PATH by
/// default).
///
/// Everything that blocks (waitpid, reading the output) runs on threads of its own, and the time limit is kept by
/// those threads too: a task pool held up by other work delays only when the caller resumes, never the verdict.
/// The child is reaped while its output is read; once it has exited (or was stopped), output still held open by a
/// process it left behind (`setsid daemon &`) is read for `drainGrace` at most, then closed.
public struct SystemCommandRunner: PipelineRunner {
    public var searchPath: [String]
    /// Variables a command needs beyond `inheritedVariables` (a proxy, `DOCKER_HOST`). Nothing else of sbs's own
    /// environment reaches a child: not the variables that `env:` secrets were read from.
    public var environment: [String: String]
    /// A command past its timeout (or interrupted) gets SIGTERM to its process group, then SIGKILL after this:
    /// apt and dpkg clean up on TERM, and a KILL in the middle of them is harmful.
    public var terminationGrace: Duration
    /// How long output is still read after the command itself has exited.
    public var drainGrace: Duration
    /// The most kept of each of standard output and error; the rest is read and dropped (a command that prints
    /// without end cannot fill memory before its timeout).
    public var maxOutputBytes: Int = 16 << 20

    /// The variables passed on from sbs's environment when set: the search path, the locale, home and terminal.
    public static let inheritedVariables = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM"]

    public init(
        searchPath: [String]? = nil, environment: [String: String] = [:],
        terminationGrace: Duration = .seconds(1), drainGrace: Duration = .milliseconds(500)
    ) {
        self.searchPath =
            searchPath
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? Self.defaultPath)
            .split(separator: ":").map(String.init)
        self.environment = environment
        self.terminationGrace = terminationGrace
        self.drainGrace = drainGrace
    }

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The environment a child starts with: the inherited variables that are set, then `environment`.
    public var childEnvironment: [String: String] {
        let own = ProcessInfo.processInfo.environment
        var result: [String: String] = ["PATH": Self.defaultPath]
        for name in Self.inheritedVariables { if let value = own[name] { result[name] = value } }
        for (name, value) in environment { result[name] = value }
        return result
    }

    /// Runs `argv` with the caller's standard output and error (a hook a person watches, such as
    /// `sbs renew --post-renew`) and waits for it, however long it takes; it is done when it exits, whatever
    /// daemons it left behind. Cancelling the task sends it SIGTERM, then SIGKILL after `terminationGrace`.
    /// - Returns: its exit status (127 when it cannot be found, 128 + signal when killed).
    /// - Throws: `UserError` when it cannot be started.
    public func runAttached(_ argv: [String]) async throws(UserError) -> Int32 {
        guard let program = argv.first else { throw UserError("No command given.") }
        guard let path = locate(program) else { return 127 }
        let child = try SpawnedProcess(path: path, argv: argv, environment: childEnvironment, capture: false)
        let supervisor = Supervisor(child: child, timeout: nil, grace: terminationGrace, drain: drainGrace)
        return await withTaskCancellationHandler {
            await onOwnThread { supervisor.wait() }
        } onCancel: {
            supervisor.interrupt()
        }.status
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
        let child = try SpawnedProcess(path: path, argv: argv, environment: childEnvironment)
        let supervisor = Supervisor(
            child: child, timeout: timeout, grace: terminationGrace, drain: drainGrace,
            maxOutput: maxOutputBytes)
        // Interrupting the run (Ctrl-C) stops the program too (TERM, then KILL), rather than waiting it out.
        let outcome = await withTaskCancellationHandler {
            await onOwnThread { supervisor.wait() }
        } onCancel: {
            supervisor.interrupt()
        }
        return CommandResult(
            status: outcome.status, stdout: String(decoding: outcome.stdout, as: UTF8.self),
            stderr: String(decoding: outcome.stderr, as: UTF8.self), timedOut: outcome.timedOut)
    }
}

extension SystemCommandRunner {
    /// What each side of a pipeline left behind (the producer's standard output went to the consumer).
    /// Runs `producer` with its standard output connected to the standard input of `consumer` (`pg_dump | restic
    /// backup --stdin`): the data streams from one to the other and never passes through sbs, its memory or a
    /// file. Both are waited for, each with its own exit status (a shell pipeline would give only the last one's);
    /// past `timeout`, or when the task is cancelled, both are stopped (TERM, then KILL).
    /// - Throws: `UserError` when either program cannot be found or started (then neither runs on).
    public func runPipeline(_ producer: [String], into consumer: [String], timeout: Duration)
        async throws(UserError) -> PipelineResult
    {
        guard let producerProgram = producer.first, let consumerProgram = consumer.first else {
            throw UserError("No command given.")
        }
        for program in [producerProgram, consumerProgram] where locate(program) == nil {
            throw UserError("\(program): command not found.", remedy: "Install it, then run the command again.")
        }
        var pair: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &pair) == 0 else { throw AtomicFile.systemError("socketpair", "pipeline") }
        // The consumer's input ends when the producer (the only other holder of the writing end) exits.
        shutdown(pair[0], Int32(SHUT_WR))
        shutdown(pair[1], Int32(SHUT_RD))
        let consumerChild: SpawnedProcess
        do {
            consumerChild = try SpawnedProcess(
                path: locate(consumerProgram) ?? consumerProgram, argv: consumer, environment: childEnvironment,
                standardInput: pair[0])
        } catch {
            close(pair[0])
            close(pair[1])
            throw error
        }
        close(pair[0])
        let producerChild: SpawnedProcess
        do {
            producerChild = try SpawnedProcess(
                path: locate(producerProgram) ?? producerProgram, argv: producer, environment: childEnvironment,
                standardOutput: pair[1])
        } catch {
            close(pair[1])
            consumerChild.send(SIGTERM)
            _ = await onOwnThread {
                Supervisor(child: consumerChild, timeout: terminationGrace, grace: terminationGrace, drain: drainGrace)
                    .wait()
            }
            throw error
        }
        close(pair[1])
        let supervisors = [producerChild, consumerChild].map {
            Supervisor(
                child: $0, timeout: timeout, grace: terminationGrace, drain: drainGrace, maxOutput: maxOutputBytes)
        }
        let outcomes = await withTaskCancellationHandler {
            async let first = onOwnThread { supervisors[0].wait() }
            async let second = onOwnThread { supervisors[1].wait() }
            return await [first, second]
        } onCancel: {
            for supervisor in supervisors { supervisor.interrupt() }
        }
        let results = outcomes.map {
            CommandResult(
                status: $0.status, stdout: String(decoding: $0.stdout, as: UTF8.self),
                stderr: String(decoding: $0.stderr, as: UTF8.self), timedOut: $0.timedOut)
        }
        return PipelineResult(producer: results[0], consumer: results[1])
    }
}

/// A child started with posix_spawn: captured ones run in a process group of their own with standard output and
/// error on socket pairs; attached ones share the caller's terminal and process group.
final class SpawnedProcess: Sendable {
    let pid: pid_t
    let stdoutFD: Int32
    let stderrFD: Int32
    /// Whether the child leads a process group of its own (then signals go to the whole group).
    let ownGroup: Bool

    /// - Parameters:
    ///   - capture: false leaves standard output and error to the caller's (a command a person watches,
    ///     which may start daemons that keep them open).
    ///   - standardInput: a descriptor the child reads as its standard input (else /dev/null).
    ///   - standardOutput: a descriptor the child writes its standard output to, instead of one captured.
    init(
        path: String, argv: [String], environment: [String: String], capture: Bool = true,
        standardInput: Int32? = nil, standardOutput: Int32? = nil
    ) throws(UserError) {
        // Socket pairs rather than pipes: created close-on-exec in one call (pipe2 is not visible from Swift), so no
        // child that another thread starts meanwhile inherits them and holds them open past this one's exit.
        // dup2 in the child clears the flag on its own copies.
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if let standardInput {
            posix_spawn_file_actions_adddup2(&actions, standardInput, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        // Signals sbs ignores or blocks while it waits are back to their defaults in the child.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        if capture {
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            if standardOutput == nil {
                guard socketpair(AF_UNIX, type, 0, &out) == 0 else {
                    throw AtomicFile.systemError("socketpair", path)
                }
            }
            guard socketpair(AF_UNIX, type, 0, &err) == 0 else {
                if out[0] >= 0 { close(out[0]) }
                if out[1] >= 0 { close(out[1]) }
                throw AtomicFile.systemError("socketpair", path)
            }
            posix_spawn_file_actions_adddup2(&actions, standardOutput ?? out[1], 1)
            posix_spawn_file_actions_adddup2(&actions, err[1], 2)
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in cArgs + cEnv { free(pointer) } }
        var pid: pid_t = 0
        var result = posix_spawn(&pid, path, &actions, &attributes, &cArgs, &cEnv)
        // ETXTBSY: a program written a moment ago can still be open for writing in a child another thread just
        // forked; that copy closes at its exec.
        for _ in 0..<20 where result == ETXTBSY {
            usleep(50_000)
            result = posix_spawn(&pid, path, &actions, &attributes, &cArgs, &cEnv)
        }
        if capture {
            if out[1] >= 0 { close(out[1]) }
            close(err[1])
        }
        guard result == 0 else {
            if capture {
                if out[0] >= 0 { close(out[0]) }
                close(err[0])
            }
            errno = result
            throw AtomicFile.systemError("spawn", path)
        }
        self.pid = pid
        stdoutFD = out[0]
        stderrFD = err[0]
        ownGroup = capture
    }

    /// Sends `signal` to the child's process group (or to the child alone when it shares sbs's group).
    func send(_ signal: Int32) {
        kill(ownGroup ? -pid : pid, signal)
    }
}

/// Watches one child to its end on the calling thread (never a task-pool thread): reads its output, keeps its
/// time limit, stops it with TERM and then KILL, and takes its exit status from a reaper thread of its own.
final class Supervisor: @unchecked Sendable {
    struct Outcome: Sendable {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
        var timedOut: Bool
    }

    let child: SpawnedProcess
    let timeout: Duration?
    let grace: Duration
    let drain: Duration
    let maxOutput: Int
    private let lock = Lock()
    private var exitStatus: Int32?
    private var interrupted = false
    /// Written to wake the supervising poll (the child exited, or the caller was interrupted).
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init(child: SpawnedProcess, timeout: Duration?, grace: Duration, drain: Duration, maxOutput: Int = 16 << 20) {
        self.maxOutput = maxOutput
        self.child = child
        self.timeout = timeout
        self.grace = grace
        self.drain = drain
        var pair: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        if socketpair(AF_UNIX, type, 0, &pair) != 0 { pair = [-1, -1] }
        wakeRead = pair[0]
        wakeWrite = pair[1]
        // The reaper: waitpid on a thread of its own, so that the exit is seen while output is still being read.
        let pid = child.pid
        detachThread { [self] in
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            let signal = raw & 0x7f
            let status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            lock.withLock { exitStatus = status }
            wake()
        }
    }

    deinit {
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
    }

    /// Stops the child as a timeout would (TERM, grace, KILL); the reason is not a timeout.
    func interrupt() {
        lock.withLock { interrupted = true }
        wake()
    }

    /// Blocks until the child has exited and its output is read (or the drain deadline passed).
    func wait() -> Outcome {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var open: [Int32] = [child.stdoutFD, child.stderrFD].filter { $0 >= 0 }
        let start = Self.now()
        let timeoutDeadline = timeout.map { start + $0.seconds }
        var killDeadline: Double?
        var drainDeadline: Double?
        var timedOut = false
        var terminated = false
        var status: Int32?
        var buffer = [UInt8](repeating: 0, count: 65536)

        while true {
            let (exited, wasInterrupted) = lock.withLock { (exitStatus, interrupted) }
            let now = Self.now()
            if let exited, status == nil {
                status = exited
                drainDeadline = now + drain.seconds
            }
            if status == nil {
                if !terminated, wasInterrupted || (timeoutDeadline.map { now >= $0 } ?? false) {
                    timedOut = !wasInterrupted
                    terminated = true
                    child.send(SIGTERM)
                    killDeadline = now + grace.seconds
                }
                if let deadline = killDeadline, now >= deadline {
                    child.send(SIGKILL)
                    killDeadline = nil
                }
            }
            if status != nil && (open.isEmpty || (drainDeadline.map { now >= $0 } ?? false)) { break }

            // Sleep in poll until output arrives, the child exits, or the next deadline.
            let deadlines = [status == nil && !terminated ? timeoutDeadline : nil, killDeadline, drainDeadline]
                .compactMap { $0 }
            let waitMs = deadlines.min().map { max(0, Int32(min(($0 - now) * 1000 + 1, 60_000))) } ?? -1
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if wakeRead >= 0 { fds.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), waitMs)
            if ready < 0 && errno != EINTR { usleep(10_000) }
            guard ready > 0 else { continue }
            for entry in fds where entry.revents != 0 {
                if entry.fd == wakeRead {
                    var sink = [UInt8](repeating: 0, count: 64)
                    _ = Glibc.read(wakeRead, &sink, sink.count)
                    continue
                }
                let n = buffer.withUnsafeMutableBytes { Glibc.read(entry.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if entry.fd == child.stdoutFD {
                        stdout.append(contentsOf: buffer[0..<min(n, max(0, maxOutput - stdout.count))])
                    } else {
                        stderr.append(contentsOf: buffer[0..<min(n, max(0, maxOutput - stderr.count))])
                    }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        if child.stdoutFD >= 0 { close(child.stdoutFD) }
        if child.stderrFD >= 0 { close(child.stderrFD) }
        return Outcome(status: status ?? 128 + SIGKILL, stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

}
