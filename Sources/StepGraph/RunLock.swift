import FoundationEssentials
import Glibc
import SBSCore

/// An exclusive lock on `<root>/var/lib/sbs/lock` (flock), held for the life of a run. The file holds the
/// holder's pid so a refused run can name it. The kernel drops the lock when the process dies, kill -9 included.
public final class RunLock: Sendable {
    private let fd: Int32
    public let path: String

    /// Takes the lock or refuses at once.
    /// - Throws: `UserError` naming the pid of the run that holds it, or the failing system call.
    public init(path: String) throws(UserError) {
        try AtomicFile.makeDirectories(AtomicFile.parentDirectory(of: path))
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard fd >= 0 else { throw AtomicFile.systemError("open", path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            if code == EWOULDBLOCK {
                let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmed : "unknown"
                throw UserError.refused(
                    "Another sbs run (pid \(holder)) is working on this installation.",
                    remedy: "Wait for it to finish, or stop it, then run `sbs resume`.")
            }
            errno = code
            throw AtomicFile.systemError("flock", path)
        }
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
}
