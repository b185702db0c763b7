import FoundationEssentials
import SBSCore

/// restic as sbs runs it: one repository, its password read by a command restic runs itself (`sbs secrets show
/// BACKUP_PASSWORD`), so the password is in no argv and no environment of any process; restic's cache under sbs's
/// state folder.
public struct Restic: Sendable, Hashable, Codable {
    /// The repository as restic is given it (`--repo`).
    public let location: String
    /// The command restic runs to read the password, word by word.
    public let passwordCommand: [String]
    public let cacheDirectory: String
    /// Extended options (`-o NAME=VALUE`): `sftp.command` for an sftp repository (see `SFTPAccess`).
    public let options: [String]

    /// - Throws: `UserError` when a word of the password command holds a double quote, a backslash or a control
    ///   character: restic splits the command it is given as a shell would, and such a word could not be quoted.
    public init(location: String, passwordCommand: [String], cacheDirectory: String, options: [String] = [])
        throws(UserError)
    {
        for word in passwordCommand + [cacheDirectory] + options
        where word.isEmpty || word.unicodeScalars.contains(where: { $0 == "\"" || $0 == "\\" || $0.value < 32 }) {
            throw UserError(
                "The path '\(word.debugSafe)' holds a double quote, a backslash or a control character; restic could not be given it.",
                remedy: "Install sbs and the installation under paths without those characters.")
        }
        self.location = location
        self.passwordCommand = passwordCommand
        self.cacheDirectory = cacheDirectory
        self.options = options
    }

    /// `restic` with the repository, the password command and the cache, then `arguments`.
    public func command(_ arguments: [String]) -> [String] {
        [
            "restic", "--repo", location, "--password-command",
            passwordCommand.map { "\"\($0)\"" }.joined(separator: " "), "--cache-dir", cacheDirectory,
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
