import FoundationEssentials
import Glibc
import SBSCore

/// libpq's password file for the source, kept in memory only (`MemoryFile`): psql and pg_dump open it as
/// `/proc/PID/fd/N` (`PGPASSFILE`). Nothing of it is left behind, even when sbs is killed; the password is never in
/// a child's argv or environment.
public final class PasswordFile: Sendable {
    /// The `PGPASSFILE` value; nil when there is no password (the source trusts the connection).
    public var path: String? { file?.path }
    private let file: MemoryFile?

    /// - Parameters:
    ///   - password: the source's password; nil for none.
    ///   - source: the one host, port and user the line matches (the password is not offered to another server).
    public init(password: String?, for source: SourceURL?) throws(UserError) {
        guard let password, let source else {
            file = nil
            return
        }
        let line =
            [source.host, String(source.port), "*", source.user, password].map(Self.escaped).joined(separator: ":")
            + "\n"
        file = try MemoryFile(bytes: Array(line.utf8))
    }

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
