/// Where backups go: a restic repository, either a folder on this server (an absolute path, placed under the
/// install's root like every path) or `sftp:user@host:/path` on another. Checked so that it can be passed to restic
/// as one argument and written into a systemd unit: printable ASCII, no spaces, quotes or backslashes.
///
/// S3, B2 and restic's REST server are refused for now: restic reads their credentials from its environment, and
/// sbs passes no secret through a child's environment.
public struct BackupRepository: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: String

    /// The kinds sbs accepts.
    public enum Kind: Sendable, Equatable { case local, sftp }

    public init(_ text: String) throws(UserError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 512,
            bytes.allSatisfy({ (33...126).contains($0) && $0 != 34 && $0 != 39 && $0 != 92 && $0 != 96 })
        else {
            throw UserError(
                "'\(text.debugSafe)' is not a backup repository sbs can use: it must be printable ASCII without spaces, quotes or backslashes, at most 512 characters.",
                remedy: "Give a folder such as /var/backups/sbs/restic, or sftp:user@host:/srv/backups/sbs.")
        }
        if text.hasPrefix("/") {
            guard !text.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
                throw UserError(
                    "The backup repository '\(text.debugSafe)' holds '.' or '..' steps.",
                    remedy: "Give the folder's plain absolute path.")
            }
        } else if text.hasPrefix("sftp:") {
            let rest = text.dropFirst("sftp:".count)
            guard let colon = rest.firstIndex(of: ":"), !rest[..<colon].isEmpty, !rest[..<colon].hasPrefix("-"),
                rest[rest.index(after: colon)...].count > 0
            else {
                throw UserError(
                    "The backup repository '\(text.debugSafe)' is not of the form sftp:user@host:/path.",
                    remedy: "Give it as sftp:user@host:/srv/backups/sbs (the host key must be known to root's ssh).")
            }
        } else if let scheme = ["s3:", "b2:", "rest:", "azure:", "gs:", "rclone:", "swift:"].first(where: {
            text.hasPrefix($0)
        }) {
            throw UserError(
                "Backup repositories of the kind '\(scheme)' are not supported by sbs yet: restic would read their credentials from its environment.",
                remedy: "Use a folder (on a disk of its own, or mounted from elsewhere) or sftp:user@host:/path.")
        } else {
            throw UserError(
                "'\(text.debugSafe)' is not a backup repository: give an absolute folder or sftp:user@host:/path.",
                remedy: "Such as /var/backups/sbs/restic or sftp:backup@nas.example.com:/srv/sbs.")
        }
        value = text
    }

    public var kind: Kind { value.hasPrefix("/") ? .local : .sftp }

    /// The repository as restic is given it: a local folder placed under `layout`'s root.
    public func location(in layout: Layout) -> String {
        kind == .local ? layout.resolve(value) : value
    }

    public var description: String { value }

    /// The default: a folder on this server's disk (the summary says to copy it elsewhere or name another).
    public static let onThisServer = try! BackupRepository("/var/backups/sbs/restic")
}

extension BackupRepository {
    /// `user@host` of an sftp repository, nil for a folder.
    public var sftpDestination: String? {
        guard kind == .sftp else { return nil }
        let rest = value.dropFirst("sftp:".count)
        return rest.firstIndex(of: ":").map { String(rest[..<$0]) }
    }
}

/// How restic's ssh reaches an sftp repository: the port, the private key and the host's known key, each given
/// (answers `backups.sftp`), so that nothing of root's own ssh configuration is needed or read. restic runs
/// `ssh -p PORT -i KEY -o UserKnownHostsFile=KNOWN -o StrictHostKeyChecking=yes -o BatchMode=yes … USER@HOST -s sftp`:
/// an unknown host key or a key that is refused fails at once, never waiting on a question.
public struct SFTPAccess: Sendable, Hashable, Codable {
    public let port: Int
    public let identityFile: String
    public let knownHosts: String

    /// - Throws: `UserError` when a path is not absolute or holds what restic's word splitting would break
    ///   (spaces, quotes, backslashes; see `SafeToken`).
    public init(port: Port = Port.ssh, identityFile: String, knownHosts: String) throws(UserError) {
        for (path, what) in [(identityFile, "identity_file"), (knownHosts, "known_hosts")] {
            guard path.hasPrefix("/") else {
                throw UserError("backups.sftp.\(what) '\(path.debugSafe)' must be an absolute path")
            }
            _ = try SafeToken(path, what: "backups.sftp.\(what)")
        }
        self.port = port.value
        self.identityFile = identityFile
        self.knownHosts = knownHosts
    }

    /// restic's `-o sftp.command=…` for `repository`; nil when it is not an sftp repository.
    public func resticOption(for repository: BackupRepository) -> String? {
        guard let destination = repository.sftpDestination else { return nil }
        return "sftp.command=ssh -p \(port) -i \(identityFile) -o UserKnownHostsFile=\(knownHosts)"
            + " -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes \(destination) -s sftp"
    }
}
