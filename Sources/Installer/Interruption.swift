import Glibc
import Processes
import SBSCore
import Synchronization

/// The signals that stop a run (Ctrl-C, a kill, a closed terminal): sbs's own handlers (`SignalInterruptions`),
/// or a test's.
public protocol RunInterruptions: Sendable {
    /// Runs `handler` once, on the first signal (at once when one has already arrived). Called after the wizard,
    /// whose prompts restore the default signal actions: the real one installs its handlers again.
    func onInterrupt(_ handler: @escaping @Sendable () -> Void)
}

/// SIGINT, SIGTERM and SIGHUP, through `Interruption`.
public struct SignalInterruptions: RunInterruptions {
    public init() {}

    public func onInterrupt(_ handler: @escaping @Sendable () -> Void) {
        Interruption.install()
        Interruption.onSignal(handler)
    }
}

/// SIGINT (Ctrl-C), SIGTERM (kill, a service manager) and SIGHUP (the terminal or SSH session closed) end a command
/// the same way: the first cancels the running command, which stops at its next wait and leaves its state
/// resumable; the exit status is 128 + the signal. A second signal ends sbs at once (the state on disk is written
/// atomically, so that too is resumable).
///
/// A plain handler that writes the signal's number to a pipe, read by a thread of its own: no Dispatch signal
/// source, whose signalfd sees a signal only when every thread blocks it (threads started earlier do not, and an
/// ignored signal sent to one of them is lost).
public enum Interruption {
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    private static let state = Mutex<(received: Int32?, handlers: [@Sendable () -> Void], watching: Bool)>(
        (nil, [], false))
    /// The pipe's write end, for the handler (async-signal-safe: a plain global, a write(2)).
    nonisolated(unsafe) private static var pipeWrite: Int32 = -1

    /// Installs the handlers (again: code that changed a signal's action meanwhile, such as a prompt that restored
    /// the defaults, loses it), and starts the watching thread once.
    public static func install() {
        let start = state.withLock { state -> Bool in
            defer { state.watching = true }
            return !state.watching
        }
        if start {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { return }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            pipeWrite = fds[1]
            let readEnd = fds[0]
            detachThread {
                var byte: UInt8 = 0
                while true {
                    let n = read(readEnd, &byte, 1)
                    if n == 1 { handle(Int32(byte)) } else if n < 0 && errno == EINTR { continue } else { return }
                }
            }
        }
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(Interruption.pipeWrite, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
    }

    /// The first signal received, if any.
    public static var received: Int32? { state.withLock { $0.received } }

    /// Runs `handler` when a signal arrives (at once when one already has).
    public static func onSignal(_ handler: @escaping @Sendable () -> Void) {
        let already = state.withLock { state -> Bool in
            state.handlers.append(handler)
            return state.received != nil
        }
        if already { handler() }
    }

    static func handle(_ number: Int32) {
        let (first, handlers) = state.withLock { state -> (Bool, [@Sendable () -> Void]) in
            if state.received != nil { return (false, []) }
            state.received = number
            return (true, state.handlers)
        }
        guard first else {
            StandardStreams().err(
                "\nInterrupted again (\(name(number))): stopping now. `sbs resume` continues an install.")
            AtomicFile.removeTemporariesInFlight()
            _exit(128 + (received ?? number))
        }
        for handler in handlers { handler() }
    }

    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(number)"
        }
    }
}
