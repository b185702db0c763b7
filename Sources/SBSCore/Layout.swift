/// Where sbs writes and keeps things. Every path is under `root` (`/` on a real install, a folder in tests and
/// demos), so `--root DIR` moves all of it at once.
public struct Layout: Sendable, Equatable {
    public let root: String

    public init(root: String) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
    }

    /// `path` (absolute, such as `/etc/sbs`) placed under the root.
    public func resolve(_ path: String) -> String {
        precondition(path.hasPrefix("/"), "Layout paths are absolute")
        return root == "/" ? path : root + path
    }

    public var etcDir: String { resolve("/etc/sbs") }
    public var stateDir: String { resolve("/var/lib/sbs") }
    public var logDir: String { resolve("/var/log/sbs") }
    public var stateFile: String { stateDir + "/state.json" }
    public var lockFile: String { stateDir + "/lock" }
    public var secretsFile: String { etcDir + "/secrets.env" }
    /// The answers of the last run, secrets left as references or omitted.
    public var answersFile: String { etcDir + "/answers.yaml" }
    public var sslDir: String { etcDir + "/ssl" }
    public var acmeDir: String { etcDir + "/acme" }
    public var backupDir: String { stateDir + "/backups" }
    /// The ACME HTTP-01 webroot nginx serves `/.well-known/acme-challenge/` from.
    public var webrootDir: String { stateDir + "/webroot" }

    /// Refuses a root, or a folder of sbs's under it, that someone other than root or the user running sbs could
    /// change (see `AtomicFile.checkTrusted`): the root and sbs's folders that exist must be owned by one of them
    /// and writable by no one else, sticky or not; the folders above the root as `checkTrusted` says.
    /// - Throws: `UserError` naming the folder.
    public func checkTrusted() throws(UserError) {
        for folder in [
            root, resolve("/etc"), etcDir, resolve("/var"), resolve("/var/lib"), stateDir, resolve("/var/log"), logDir,
            resolve("/opt"), resolve("/opt/sbs"),
        ] where root != "/" || [etcDir, stateDir, logDir, resolve("/opt/sbs")].contains(folder) {
            try AtomicFile.checkTrusted(folder: folder, strict: true)
        }
    }
}
