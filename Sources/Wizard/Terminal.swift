import CEditLine
import FoundationEssentials
import Glibc
import SBSCore

/// The person at the keyboard. `EditLineTerminal` is the real one; tests script their own.
public protocol Terminal: AnyObject {
    /// Asks for a line, with `initial` already typed (editable) and Tab completing from `completions`.
    /// - Returns: the line without its newline, or nil at end of input (Ctrl-D).
    func readLine(prompt: String, initial: String, completions: [String]) -> String?
    /// Asks for a line without showing what is typed.
    /// - Returns: the line, or nil at end of input.
    /// - Throws: `UserError` when the terminal cannot be switched to hidden input.
    func readSecret(prompt: String) throws(UserError) -> String?
    func write(_ text: String)
}

/// A terminal driven through libedit: line editing, history, Tab completion. When standard input is not a
/// terminal (as under `curl … | sh`) it talks to `/dev/tty`. Keep it on one thread: libedit is not thread-safe.
public final class EditLineTerminal: Terminal {
    private let input: UnsafeMutablePointer<FILE>
    private let output: UnsafeMutablePointer<FILE>
    private let fd: Int32
    private let editLine: OpaquePointer
    private let history: OpaquePointer?
    private let ownsFile: Bool
    fileprivate var prompt: [CChar] = [0]
    fileprivate var completions: [String] = []

    /// Opens the terminal.
    /// - Throws: `UserError` naming `--answers` when there is no terminal at all.
    public init() throws(UserError) {
        if isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 {
            input = sbs_stdin()
            output = sbs_stdout()
            fd = STDIN_FILENO
            ownsFile = false
        } else if let tty = fopen("/dev/tty", "r+") {
            input = tty
            output = tty
            fd = fileno(tty)
            ownsFile = true
        } else {
            throw UserError(
                "There is no terminal to ask questions on.",
                remedy: "Give the answers with --answers FILE --non-interactive (see `sbs answers validate`).")
        }
        guard let editLine = el_init("sbs", input, output, sbs_stderr()) else {
            throw UserError(
                "libedit could not start on this terminal.",
                remedy: "Give the answers with --answers FILE --non-interactive.")
        }
        self.editLine = editLine
        history = sbs_history_init()
        sbs_el_set_editor(editLine, "emacs")
        sbs_el_set_signal(editLine, 1)
        if let history { sbs_el_set_history(editLine, history) }
        sbs_el_set_clientdata(editLine, Unmanaged.passUnretained(self).toOpaque())
        sbs_el_set_prompt(editLine) { editLine in
            guard let editLine, let data = sbs_el_get_clientdata(editLine) else { return nil }
            let terminal = Unmanaged<EditLineTerminal>.fromOpaque(data).takeUnretainedValue()
            return terminal.prompt.withUnsafeMutableBufferPointer { $0.baseAddress }
        }
        sbs_el_addfn(editLine, "sbs-complete", "Complete the answer") { editLine, _ in
            guard let editLine, let data = sbs_el_get_clientdata(editLine) else { return UInt8(CC_ERROR) }
            return Unmanaged<EditLineTerminal>.fromOpaque(data).takeUnretainedValue().complete()
        }
        sbs_el_bind(editLine, "^I", "sbs-complete")
    }

    deinit {
        el_end(editLine)
        if let history { history_end(history) }
        if ownsFile { fclose(input) }
    }

    public func readLine(prompt: String, initial: String, completions: [String]) -> String? {
        self.prompt = Array(prompt.utf8CString)
        self.completions = completions
        if !initial.isEmpty { el_push(editLine, initial) }
        var count: Int32 = 0
        guard let line = el_gets(editLine, &count), count >= 0 else { return nil }
        var text = String(cString: line)
        if text.hasSuffix("\n") { text.removeLast() }
        if let history, !text.isEmpty { sbs_history_enter(history, text) }
        return text
    }

    /// Echo off, canonical mode off and signals off while reading, so that Ctrl-C arrives as a byte and the
    /// terminal is restored on every path before it is acted on.
    public func readSecret(prompt: String) throws(UserError) -> String? {
        write(prompt)
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { throw AtomicFile.systemError("tcgetattr", "/dev/tty") }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(fd, TCSAFLUSH, &raw) == 0 else { throw AtomicFile.systemError("tcsetattr", "/dev/tty") }
        defer {
            tcsetattr(fd, TCSAFLUSH, &saved)
            write("\n")
        }
        var bytes: [UInt8] = []
        while true {
            var byte: UInt8 = 0
            let n = Glibc.read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            switch byte {
            case 3:  // Ctrl-C: restore the terminal, then end as the Ctrl-C handler does.
                tcsetattr(fd, TCSAFLUSH, &saved)
                write("\n")
                interruptNow(SIGINT)
            case 4 where bytes.isEmpty: return nil
            case 10, 13: return String(decoding: bytes, as: UTF8.self)
            case 8, 127: if !bytes.isEmpty { bytes.removeLast() }
            case 21: bytes.removeAll()  // Ctrl-U
            default: if byte >= 32 { bytes.append(byte) }
            }
        }
    }

    public func write(_ text: String) {
        fputs(text, output)
        fflush(output)
    }

    /// Tab: completes the line to the longest common prefix of the matching choices, or lists them.
    fileprivate func complete() -> UInt8 {
        guard let info = el_line(editLine)?.pointee else { return UInt8(CC_ERROR) }
        let typed = String(
            decoding: UnsafeBufferPointer(
                start: UnsafeRawPointer(info.buffer).assumingMemoryBound(to: UInt8.self),
                count: info.lastchar - info.buffer), as: UTF8.self)
        let matches = completions.filter { $0.hasPrefix(typed) }
        guard let first = matches.first else { return UInt8(CC_REFRESH_BEEP) }
        var common = first
        for match in matches.dropFirst() {
            while !match.hasPrefix(common) { common.removeLast() }
        }
        if common.count > typed.count {
            el_insertstr(editLine, String(common.dropFirst(typed.count)))
            return UInt8(CC_REFRESH)
        }
        if matches.count > 1 {
            write("\n" + matches.joined(separator: "  ") + "\n")
            return UInt8(CC_REDISPLAY)
        }
        return UInt8(CC_REFRESH)
    }
}

/// The message the Ctrl-C handler prints; set before the handler is installed, read only by it.
nonisolated(unsafe) private var interruptMessage: UnsafeMutablePointer<CChar>?

/// Runs `body` (which asks questions) so that Ctrl-C, a kill (SIGTERM) or a closed terminal (SIGHUP) prints
/// `message` and exits with 128 + the signal (130, 143, 129). libedit (EL_SIGNAL) restores the terminal and
/// re-raises the signal before this handler runs; write() and _exit() are async-signal-safe.
public func withInterruptMessage<T>(_ message: String, _ body: () throws -> T) rethrows -> T {
    free(interruptMessage)
    interruptMessage = strdup(message)
    let handler: @convention(c) (Int32) -> Void = { signal in interruptNow(signal) }
    let signals = [SIGINT, SIGTERM, SIGHUP]
    for number in signals { signal(number, handler) }
    defer { for number in signals { signal(number, SIG_DFL) } }
    return try body()
}

/// Says what the interrupt left behind (the message given to `withInterruptMessage`) and exits with 128 + `signal`.
func interruptNow(_ signal: Int32) -> Never {
    if let message = interruptMessage { _ = Glibc.write(2, message, strlen(message)) }
    _exit(128 + signal)
}
