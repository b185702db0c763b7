import FoundationEssentials
import SBSCore

/// What an S3 or REST repository asks besides restic's password, and how restic is given it with no secret in an
/// argv or an environment: a 0600 file restic reads. For S3, an AWS credentials file that restic's S3 client finds
/// through `AWS_SHARED_CREDENTIALS_FILE` (a path, the only variable set); for REST, the repository's URL with the
/// user and password in it, read with `--repository-file`. Folder and sftp repositories need none.
public enum RepositoryCredentials: Sendable, Hashable {
    case s3(accessKeyID: String, secretAccessKey: String)
    case rest(user: String, password: String)

    /// - Throws: `UserError` when a value holds a character the credentials file could not carry as it is
    ///   (whitespace, quotes, `#`, `;`, `\`, control characters): S3 keys are letters, digits, `/` and `+`.
    public static func checkedS3(accessKeyID: String, secretAccessKey: String) throws(UserError) -> Self {
        for (value, what) in [
            (accessKeyID, "backups.s3.access_key_id"), (secretAccessKey, "backups.s3.secret_access_key"),
        ]
        where value.isEmpty
            || !value.utf8.allSatisfy({ (33...126).contains($0) && !Array("\"'#;\\`=".utf8).contains($0) })
        {
            throw UserError(
                "\(what) is empty or holds a character an S3 key does not have (whitespace, quotes, # ; \\ = or a control character).",
                remedy: "Give the key as the storage provider shows it.")
        }
        return .s3(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey)
    }

    /// The file's text for `repository`.
    public func fileText(for repository: BackupRepository) -> String {
        switch self {
        case .s3(let id, let key):
            return "[default]\naws_access_key_id = \(id)\naws_secret_access_key = \(key)\n"
        case .rest(let user, let password):
            // rest:https://USER:PASSWORD@host…, both percent-encoded (restic reads the URL with Go's url.Parse).
            // The repository was checked to start rest:http:// or rest:https:// (`BackupRepository`).
            let text = repository.value
            let scheme = text.hasPrefix("rest:https://") ? "rest:https://" : "rest:http://"
            return scheme + Self.percentEncoded(user) + ":" + Self.percentEncoded(password) + "@"
                + String(text.dropFirst(scheme.count)) + "\n"
        }
    }

    /// Writes the file for `repository` into `folder` (made 0700), named after the repository, and says how restic
    /// is to read it.
    /// - Throws: `UserError` when the credentials are not of the repository's kind, or the file cannot be written.
    public func write(for repository: BackupRepository, in folder: String) throws(UserError) -> Restic.Access {
        let name = Self.fileName(for: repository.value)
        switch (self, repository.kind) {
        case (.s3, .s3), (.rest, .rest): break
        default:
            throw UserError("Internal error: credentials of another kind given for the repository \(repository).")
        }
        try AtomicFile.makeDirectories(folder, mode: 0o700)
        let path = folder + "/" + name
        try AtomicFile.write(fileText(for: repository), to: path, mode: 0o600)
        if case .s3 = self { return .s3CredentialsFile(path) }
        return .repositoryFile(path)
    }

    /// `s3-` or `rest-` and an FNV-1a digest of the repository: two repositories' files never overwrite each other.
    static func fileName(for repository: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in repository.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        let kind = repository.hasPrefix("s3:") ? "s3" : "rest"
        return kind + "-" + String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// RFC 3986's unreserved characters as they are, every other byte as %XX.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if (c.isASCII && (c.isLetter || c.isNumber)) || "-._~".contains(c) {
                out.append(c)
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }
}
