import Glibc

/// Bytes a child process reads as a file, kept in memory only: an unnamed file (`O_TMPFILE`) in /dev/shm, mode 0600,
/// that the child opens as `/proc/PID/fd/N`. It has no name on any file system, so nothing of it is left behind,
/// even when sbs is killed; a secret passed this way is never in a child's argv or environment.
public final class MemoryFile: Sendable {
    /// `/proc/PID/fd/N`: what the child is given.
    public let path: String
    private let descriptor: Int32

    /// `O_TMPFILE` (Linux's value on x86-64 and arm64, as open(2) defines it); Glibc's module does not import it.
    static let temporaryFileFlag: Int32 = 0o20200000

    /// - Throws: `UserError` when the file cannot be made or written.
    public init(bytes: [UInt8]) throws(UserError) {
        var fd: Int32 = -1
        for folder in ["/dev/shm", "/tmp"] {
            fd = open(folder, O_RDWR | Self.temporaryFileFlag | O_CLOEXEC, 0o600)
            if fd >= 0 { break }
        }
        guard fd >= 0 else { throw AtomicFile.systemError("open(O_TMPFILE)", "/dev/shm") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            close(fd)
            throw AtomicFile.systemError("write", "a file in memory")
        }
        descriptor = fd
        path = "/proc/\(getpid())/fd/\(fd)"
    }

    deinit { close(descriptor) }
}
