import FoundationEssentials
import SBSCore

/// restic as sbs runs it: one repository, its password read by a command restic runs itself (`sbs secrets show
/// BACKUP_PASSWORD`), so the password is in no argv and no environment of any process; the credentials of an S3
/// or REST repository read from a 0600 file (see `RepositoryCredentials`); restic's cache under sbs's state folder.
public struct Restic: Sendable, Hashable, Codable {
    /// The repository as restic is given it (`--repo`), and as messages name it: never with a credential in it.
    public let location: String
    /// How restic reads an S3 or REST repository's credentials; nil for a folder or sftp.
    public let access: Access?

    /// The file restic reads an S3 or REST repository's credentials from (`RepositoryCredentials.write`).
    public enum Access: Sendable, Hashable, Codable {
        /// An AWS credentials file, named to restic's S3 client by `AWS_SHARED_CREDENTIALS_FILE`.
        case s3CredentialsFile(String)
        /// The repository's URL with its user and password (`--repository-file`), used instead of `location`.
        case repositoryFile(String)

        var path: String {
            switch self {
            case .s3CredentialsFile(let path), .repositoryFile(let path): return path
            }
        }
    }
    /// The command restic runs to read the password, word by word.
    public let passwordCommand: [String]
    public let cacheDirectory: String
    /// Extended options (`-o NAME=VALUE`): `sftp.command` for an sftp repository (see `SFTPAccess`).
    public let options: [String]

    /// - Throws: `UserError` when a word of the password command holds a double quote, a backslash or a control
    ///   character: restic splits the command it is given as a shell would, and such a word could not be quoted.
    public init(
        location: String, passwordCommand: [String], cacheDirectory: String, options: [String] = [],
        access: Access? = nil
    ) throws(UserError) {
        for word in passwordCommand + [cacheDirectory] + options + [access?.path].compactMap({ $0 })
        where word.isEmpty || word.unicodeScalars.contains(where: { $0 == "\"" || $0 == "\\" || $0.value < 32 }) {
            throw UserError(
                "The path '\(word.debugSafe)' holds a double quote, a backslash or a control character; restic could not be given it.",
                remedy: "Install sbs and the installation under paths without those characters.")
        }
        self.location = location
        self.passwordCommand = passwordCommand
        self.cacheDirectory = cacheDirectory
        self.options = options
        self.access = access
    }

    /// `restic` with the repository, the password command and the cache, then `arguments`; for an S3 repository
    /// through `env`, which sets `AWS_SHARED_CREDENTIALS_FILE` (and the profile, so that no other one is read).
    public func command(_ arguments: [String]) -> [String] {
        var prefix = ["restic", "--repo", location]
        switch access {
        case .s3CredentialsFile(let path):
            prefix = ["env", "AWS_SHARED_CREDENTIALS_FILE=\(path)", "AWS_PROFILE=default"] + prefix
        case .repositoryFile(let path):
            prefix = ["restic", "--repository-file", path]
        case nil: break
        }
        return prefix + [
            "--password-command", passwordCommand.map { "\"\($0)\"" }.joined(separator: " "), "--cache-dir",
            cacheDirectory,
        ] + options.flatMap { ["-o", $0] } + arguments
    }

    /// What restic's standard error says went wrong, with what to do: the last lines that carry a message.
    public static func failure(_ what: String, status: Int32, stderr: String) -> UserError {
        let said = stderr.lastLines(4).trimmed
        if stderr.contains("wrong password") {
            return UserError(
                "\(what): restic could not open the repository with BACKUP_PASSWORD (\(said)).",
                remedy:
                    "Put the repository's password in secrets.env as BACKUP_PASSWORD (or backups.password in the answers, then `sbs install`)."
            )
        }
        if status == 127 {
            return UserError("\(what): restic is not installed.", remedy: "Install it: `apt-get install restic`.")
        }
        let refusals = [
            "signature we calculated does not match", "InvalidAccessKeyId", "Access Denied", "AccessDenied",
            "401 Unauthorized", "403 Forbidden",
        ]
        if refusals.contains(where: { stderr.contains($0) }) {
            return UserError(
                "\(what): the repository's server refused restic's credentials (\(said)).",
                remedy:
                    "Check backups.s3 (access_key_id, secret_access_key) or backups.rest (user, password) in the answers, then run `sbs install --answers FILE`; earlier snapshots are untouched."
            )
        }
        return UserError(
            "\(what) failed (restic exit \(status)): \(said.isEmpty ? "no message" : said)",
            remedy: "Fix the cause restic names, then run `sbs backup` again; earlier snapshots are untouched.")
    }
}

/// One snapshot as `restic snapshots --json` lists it.
public struct ResticSnapshot: Codable, Sendable, Equatable {
    public var id: String
    public var time: String
    public var paths: [String]
    public var hostname: String
    public var tags: [String]?

    enum CodingKeys: String, CodingKey { case id, time, paths, hostname, tags }

    public static func list(_ json: String) throws(UserError) -> [ResticSnapshot] {
        do { return try JSONDecoder().decode([ResticSnapshot].self, from: Data(json.utf8)) } catch {
            throw UserError("restic's snapshot list could not be read: \(error)")
        }
    }
}

/// The summary line of `restic backup --json`.
struct ResticBackupSummary: Decodable {
    var snapshotID: String
    var totalBytesProcessed: Int

    enum CodingKeys: String, CodingKey {
        case messageType = "message_type"
        case snapshotID = "snapshot_id"
        case totalBytesProcessed = "total_bytes_processed"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard try container.decode(String.self, forKey: .messageType) == "summary" else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not a summary"))
        }
        snapshotID = try container.decode(String.self, forKey: .snapshotID)
        totalBytesProcessed = try container.decode(Int.self, forKey: .totalBytesProcessed)
    }

    /// The summary among restic's JSON lines, nil when there is none (restic failed before it).
    static func find(in output: String) -> ResticBackupSummary? {
        for line in output.split(separator: "\n").reversed() {
            if let summary = try? JSONDecoder().decode(ResticBackupSummary.self, from: Data(line.utf8)) {
                return summary
            }
        }
        return nil
    }
}
