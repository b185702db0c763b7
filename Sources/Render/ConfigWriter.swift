import SBSCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `ConfigWriter.write` did, by relative path.
public struct WriteReport: Sendable, Equatable {
    /// New files and files whose content changed.
    public var written: [String] = []
    /// Files already byte-identical with the right mode: not touched at all.
    public var unchanged: [String] = []
    /// Files whose earlier content was copied into the backup folder before being replaced.
    public var backedUp: [String] = []
    /// Files with the right content whose permission bits were corrected.
    public var modeFixed: [String] = []

    public init() {}
}

/// Writes rendered files into the deploy folder: each atomically (temp file, fsync, rename), a file whose content
/// would change copied first into the backup folder the caller gives (keeping its path and mode), an identical
/// file left alone.
public struct ConfigWriter: Sendable {
    public let deployDirectory: String
    /// Where replaced files are kept, e.g. `<root>/var/lib/sbs/backups/<run id>`; created 0700 (a replaced `.env`
    /// holds secrets).
    public let backupDirectory: String

    public init(deployDirectory: String, backupDirectory: String) {
        self.deployDirectory = deployDirectory
        self.backupDirectory = backupDirectory
    }

    /// - Throws: `UserError` when a path is not a plain relative path, or a read, backup or write fails; files
    ///   written before the failure stay written (each one is whole).
    public func write(_ files: [RenderedFile]) throws(UserError) -> WriteReport {
        for file in files { try Self.checkRelative(file.relativePath) }
        var report = WriteReport()
        try AtomicFile.makeDirectories(deployDirectory)
        for file in files {
            let path = deployDirectory + "/" + file.relativePath
            let existing = try AtomicFile.read(path, limit: .config, followingLinks: false)
            if let existing, existing == file.bytes {
                if AtomicFile.mode(of: path).map({ UInt32($0) }) == Optional(file.mode), Self.hasGroup(path, file.group)
                {
                    report.unchanged.append(file.relativePath)
                } else {
                    try Self.setGroup(path, file.group)
                    if chmod(path, mode_t(file.mode)) != 0 { throw AtomicFile.systemError("chmod", path) }
                    report.modeFixed.append(file.relativePath)
                }
                continue
            }
            if let existing {
                let backup = backupDirectory + "/" + file.relativePath
                if !AtomicFile.exists(backup) {
                    try AtomicFile.makeDirectories(backupDirectory, mode: 0o700)
                    if chmod(backupDirectory, 0o700) != 0 { throw AtomicFile.systemError("chmod", backupDirectory) }
                    try AtomicFile.write(existing, to: backup, mode: AtomicFile.mode(of: path) ?? 0o600)
                }
                report.backedUp.append(file.relativePath)
            }
            try AtomicFile.write(file.bytes, to: path, mode: mode_t(file.mode))
            try Self.setGroup(path, file.group)
            report.written.append(file.relativePath)
        }
        return report
    }

    /// Whether `path` belongs to `group` (nil: any group will do).
    static func hasGroup(_ path: String, _ group: UInt32?) -> Bool {
        guard let group else { return true }
        var status = stat()
        return lstat(path, &status) == 0 && status.st_gid == group
    }

    static func setGroup(_ path: String, _ group: UInt32?) throws(UserError) {
        guard let group, !hasGroup(path, group) else { return }
        if lchown(path, uid_t.max, gid_t(group)) != 0 { throw AtomicFile.systemError("chown", path) }
    }

    static func checkRelative(_ path: String) throws(UserError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if path.isEmpty || path.hasPrefix("/") || parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            throw UserError("Refusing to write '\(path.debugSafe)': not a plain path inside the deploy folder.")
        }
    }
}
