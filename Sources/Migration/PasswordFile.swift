import FoundationEssentials
import Glibc
import SBSCore

/// libpq's password file for the source, kept in memory only: an unnamed file (`O_TMPFILE`) in /dev/shm, mode
/// 0600, that psql and pg_dump open as `/proc/PID/fd/N` (`PGPASSFILE`). It has no name on any file system, so
/// nothing of it is left behind, even when sbs is killed; the password is never in a child's argv or environment.
public final class PasswordFile: Sendable {
    /// The `PGPASSFILE` value; nil when there is no password (the source trusts the connection).
    public let path: String?
    private let descriptor: Int32

    /// `O_TMPFILE` (Linux's value on x86-64 and arm64, as open(2) defines it); Glibc's module does not import it.
    static let temporaryFileFlag: Int32 = 0o20200000

    /// - Parameters:
    ///   - password: the source's password; nil for none.
    ///   - source: the one host, port and user the line matches (the password is not offered to another server).
    public init(password: String?, for source: SourceURL?) throws(UserError) {
        guard let password, let source else {
            path = nil
            descriptor = -1
            return
        }
        var fd: Int32 = -1
        for folder in ["/dev/shm", "/tmp"] {
            fd = open(folder, O_RDWR | Self.temporaryFileFlag | O_CLOEXEC, 0o600)
            if fd >= 0 { break }
        }
        guard fd >= 0 else { throw AtomicFile.systemError("open(O_TMPFILE)", "/dev/shm") }
        let line =
            [source.host, String(source.port), "*", source.user, password].map(Self.escaped).joined(separator: ":")
            + "\n"
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            close(fd)
            throw AtomicFile.systemError("write", "the password file")
        }
        descriptor = fd
        path = "/proc/\(getpid())/fd/\(fd)"
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// A field of a password file line: `\` and `:` escaped with a backslash.
    static func escaped(_ field: String) -> String {
        var result = ""
        for character in field {
            if character == "\\" || character == ":" { result.append("\\") }
            result.append(character)
        }
        return result
    }
}
