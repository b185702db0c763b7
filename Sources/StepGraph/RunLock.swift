import FoundationEssentials
import Glibc
import SBSCore

/// An exclusive lock on `<root>/var/lib/sbs/lock` (flock), held for the life of a run. The file holds the
/// holder's pid so a refused run can name it. The kernel drops the lock when the process dies, kill -9 included.
///
/// Everything that changes the server takes it (install, resume, renew); what only reads (verify, status) does not.
public final class RunLock: Sendable {
    private let fd: Int32
    public let path: String

    /// The remedy an install's refusal gives.
    public static let resumeRemedy = "Wait for it to finish, or stop it, then run `sbs resume`."

    /// The remedy of another command's refusal: `command` again.
    public static func rerunRemedy(_ command: String) -> String {
        "Wait for it to finish, or stop it, then run `\(command)` again."
    }

    /// Takes the lock or refuses at once.
    /// - Throws: `UserError` (exit status 75) naming the pid of the run that holds it, or the failing system call.
    public convenience init(path: String, remedy: String = RunLock.resumeRemedy) throws(UserError) {
        let fd = try Self.open(path)
        guard try Self.take(fd, path: path) else { throw Self.refusal(fd, path: path, waited: nil, remedy: remedy) }
        self.init(fd: fd, path: path)
    }

    /// Takes the lock, waiting at most `wait` for a run that holds it (a timer's run finding an install at work):
    /// checked every 200 ms, and given up at once when the task is cancelled (SIGTERM from systemd).
    /// - Throws: `UserError` (exit status 75) naming the holder when the wait ran out, `CancellationError`, or
    ///   the failing system call.
    public static func waiting(path: String, atMost most: Duration, remedy: String) async throws -> RunLock {
        let fd = try open(path)
        let deadline = ContinuousClock.now + most
        while try !take(fd, path: path) {
            guard ContinuousClock.now < deadline else {
                throw refusal(fd, path: path, waited: most, remedy: remedy)
            }
            do {
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                close(fd)
                throw error
            }
        }
        return RunLock(fd: fd, path: path)
    }

    private init(fd: Int32, path: String) {
        let pid = Array("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = pid.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
        self.path = path
    }

    deinit {
        ftruncate(fd, 0)
        close(fd)
    }

    private static func open(_ path: String) throws(UserError) -> Int32 {
        try AtomicFile.makeDirectories(AtomicFile.parentDirectory(of: path))
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard fd >= 0 else { throw AtomicFile.systemError("open", path) }
        return fd
    }

    /// True when the lock was taken, false when another holds it; closes `fd` and throws on any other failure.
    private static func take(_ fd: Int32, path: String) throws(UserError) -> Bool {
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK { return false }
            let code = errno
            close(fd)
            errno = code
            throw AtomicFile.systemError("flock", path)
        }
        return true
    }

    /// The refusal naming the holder's pid; closes `fd`.
    private static func refusal(_ fd: Int32, path: String, waited: Duration?, remedy: String) -> UserError {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        close(fd)
        let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmed : "unknown"
        let after = waited.map { " (waited \($0.components.seconds) s for it)" } ?? ""
        return UserError.refused(
            "Another sbs run (pid \(holder)) is working on this installation\(after).", remedy: remedy)
    }
}
