/// Where backups go: a restic repository, either a folder on this server (an absolute path, placed under the
/// install's root like every path), `sftp:user@host:/path` on another, S3-compatible storage
/// (`s3:https://host/bucket/prefix`, Backblaze B2 through its S3 endpoint included) or restic's REST server
/// (`rest:https://host:8000/path/`). Checked so that it can be passed to restic as one argument and written into a
/// systemd unit: printable ASCII, no spaces, quotes or backslashes.
///
/// The credentials of S3 and REST repositories are never part of the repository: they are answers of their own
/// (`backups.s3`, `backups.rest`), kept as secrets and given to restic in a 0600 file (see `RepositoryCredentials`).
/// Plain `http://` is accepted for a loopback host only: a REST password would cross the network in clear.
/// restic's `b2:` backend is refused: it reads its keys from its environment, and sbs passes no secret through a
/// child's environment; Backblaze's S3 endpoint serves the same buckets with the same keys.
public struct BackupRepository: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: String

    /// The kinds sbs accepts.
    public enum Kind: Sendable, Equatable { case local, sftp, s3, rest }

    public init(_ text: String) throws(UserError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 512,
            bytes.allSatisfy({ (33...126).contains($0) && $0 != 34 && $0 != 39 && $0 != 92 && $0 != 96 })
        else {
            throw UserError(
                "'\(Self.shown(text))' is not a backup repository sbs can use: it must be printable ASCII without spaces, quotes or backslashes, at most 512 characters.",
                remedy:
                    "Give a folder such as /var/backups/sbs/restic, sftp:user@host:/srv/backups/sbs, s3:https://host/bucket or rest:https://host:8000/."
            )
        }
        if text.hasPrefix("/") {
            guard !text.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
                throw UserError(
                    "The backup repository '\(Self.shown(text))' holds '.' or '..' steps.",
                    remedy: "Give the folder's plain absolute path.")
            }
        } else if text.hasPrefix("sftp:") {
            let rest = text.dropFirst("sftp:".count)
            guard let colon = rest.firstIndex(of: ":"), !rest[..<colon].isEmpty, !rest[..<colon].hasPrefix("-"),
                rest[rest.index(after: colon)...].count > 0
            else {
                throw UserError(
                    "The backup repository '\(Self.shown(text))' is not of the form sftp:user@host:/path.",
                    remedy: "Give it as sftp:user@host:/srv/backups/sbs (the host key must be known to root's ssh).")
            }
        } else if text.hasPrefix("s3:") {
            try Self.checkURL(
                text, scheme: "s3:", defaultHTTPS: true, example: "s3:https://s3.eu-central-1.amazonaws.com/BUCKET/sbs")
        } else if text.hasPrefix("rest:") {
            try Self.checkURL(
                text, scheme: "rest:", defaultHTTPS: false, example: "rest:https://backup.example.com:8000/sbs/")
        } else if text.hasPrefix("b2:") {
            throw UserError(
                "restic's b2: backend reads its keys from its environment, where sbs passes no secret.",
                remedy:
                    "Use Backblaze's S3-compatible endpoint with the same bucket and application key: repository s3:https://s3.REGION.backblazeb2.com/BUCKET/sbs, with backups.s3.access_key_id (the keyID) and backups.s3.secret_access_key (the applicationKey)."
            )
        } else if let scheme = ["azure:", "gs:", "rclone:", "swift:"].first(where: { text.hasPrefix($0) }) {
            throw UserError(
                "Backup repositories of the kind '\(scheme)' are not supported by sbs: restic would read their credentials from its environment.",
                remedy:
                    "Use a folder, sftp:user@host:/path, S3-compatible storage (s3:https://host/bucket) or restic's REST server (rest:https://host:8000/)."
            )
        } else {
            throw UserError(
                "'\(Self.shown(text))' is not a backup repository: give an absolute folder, sftp:user@host:/path, s3:https://host/bucket or rest:https://host:8000/.",
                remedy: "Such as /var/backups/sbs/restic or sftp:backup@nas.example.com:/srv/sbs.")
        }
        value = text
    }

    /// `text` as messages show it: an `s3:` or `rest:` URL's user and password (refused, but typed) as `***`.
    static func shown(_ text: String) -> String {
        guard text.hasPrefix("s3:") || text.hasPrefix("rest:"), let at = text.firstIndex(of: "@") else {
            return text.debugSafe
        }
        let scheme = text.prefix { $0 != ":" }
        var start = text.index(after: scheme.endIndex)
        for web in ["https://", "http://"] where text[start...].hasPrefix(web) {
            start = text.index(start, offsetBy: web.count)
        }
        guard start <= at, !text[start..<at].contains("/") else { return text.debugSafe }
        return (String(text[..<start]) + "***" + String(text[at...])).debugSafe
    }

    public var kind: Kind {
        if value.hasPrefix("/") { return .local }
        if value.hasPrefix("s3:") { return .s3 }
        if value.hasPrefix("rest:") { return .rest }
        return .sftp
    }

    /// `s3:` and `rest:` repositories: `http(s)://host[:port]/path`, the host without user or password (those are
    /// answers of their own), plain http only to a loopback host; an S3 repository names its bucket.
    static func checkURL(_ text: String, scheme: String, defaultHTTPS: Bool, example: String) throws(UserError) {
        var rest = Substring(text.dropFirst(scheme.count))
        var secure = true
        if rest.hasPrefix("https://") {
            rest = rest.dropFirst("https://".count)
        } else if rest.hasPrefix("http://") {
            rest = rest.dropFirst("http://".count)
            secure = false
        } else if !defaultHTTPS {
            throw UserError(
                "The backup repository '\(Self.shown(text))' does not say https:// or http://.",
                remedy: "Give it as \(example).")
        }
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        guard !authority.contains("@") else {
            throw UserError(
                "The backup repository '\(Self.shown(text))' holds a user or password; sbs keeps those as secrets, never in the repository's name (which is logged and shown).",
                remedy:
                    scheme == "s3:"
                    ? "Give the keys as backups.s3.access_key_id and backups.s3.secret_access_key."
                    : "Give them as backups.rest.user and backups.rest.password (a secret: env:NAME, file:/path, or the value)."
            )
        }
        let host: Substring
        let port: Substring
        if authority.hasPrefix("[") {
            host = authority.dropFirst().prefix { $0 != "]" }
            // An IPv6 address closes its bracket.
            port = authority.dropFirst(host.count + 1).hasPrefix("]") ? authority.dropFirst(host.count + 2) : "?"
        } else {
            host = authority.prefix { $0 != ":" }
            port = authority.dropFirst(host.count)
        }
        let digits = port.dropFirst()
        guard !host.isEmpty,
            port.isEmpty
                || (port.hasPrefix(":") && !digits.isEmpty && digits.allSatisfy({ $0.isASCII && $0.isNumber })
                    && digits.count <= 5
                    && (1...65535).contains(Int(digits) ?? 0))
        else {
            throw UserError(
                "The backup repository '\(Self.shown(text))' does not name a host (and port).",
                remedy: "Give it as \(example).")
        }
        if scheme == "s3:" {
            guard path.split(separator: "/").first.map({ $0.count >= 3 }) == true else {
                throw UserError(
                    "The backup repository '\(Self.shown(text))' names no bucket (host/BUCKET/prefix).",
                    remedy: "Give it as \(example).")
            }
        }
        guard !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            throw UserError(
                "The backup repository '\(Self.shown(text))' holds '.' or '..' steps.", remedy: "Give it as \(example)."
            )
        }
        if !secure, !["localhost", "127.0.0.1", "::1"].contains(host) {
            throw UserError(
                "The backup repository '\(Self.shown(text))' is plain http to another machine: its credentials and traffic would cross the network in clear.",
                remedy: "Use https:// (plain http is accepted for a loopback host only).")
        }
    }

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
