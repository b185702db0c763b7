import FoundationEssentials
import SBSCore

/// What one `sbs backup` put in the repository: a snapshot per part (the database's roles, each database, the
/// files), found again by the run's tag. Stored last, as a snapshot of its own tagged `sbs-manifest`: a run without
/// its manifest did not finish and is not a backup.
public struct BackupManifest: Codable, Sendable, Equatable {
    /// One snapshot of the run.
    public struct Part: Codable, Sendable, Hashable {
        /// What it holds: `db/globals.sql`, `db/NAME.dump`, or `files`.
        public var name: String
        public var snapshot: String
        public var bytes: Int

        public init(name: String, snapshot: String, bytes: Int) {
            self.name = name
            self.snapshot = snapshot
            self.bytes = bytes
        }
    }

    /// The run's id (its UTC time, `20261205T031500Z`), also its tag `sbs-run:ID`.
    public var run: String
    public var sbsVersion: String
    public var domain: String
    /// The image each service ran, by service.
    public var images: [String: String]
    public var parts: [Part]
    /// The database's state when its dumps were taken (`DatabaseState.text`); nil when it could not be read (and
    /// in backups of sbs versions before it). A later backup finding the same state keeps these dumps.
    public var databaseState: String?
    /// The backup that dumped the database this one keeps (it had not changed since); nil when this one dumped it.
    public var dumpsFrom: String?

    public init(
        run: String, sbsVersion: String, domain: String, images: [String: String], parts: [Part],
        databaseState: String? = nil, dumpsFrom: String? = nil
    ) {
        self.run = run
        self.sbsVersion = sbsVersion
        self.domain = domain
        self.images = images
        self.parts = parts
        self.databaseState = databaseState
        self.dumpsFrom = dumpsFrom
    }

    /// Bytes read from the parts (before restic's deduplication and compression).
    public var bytes: Int { parts.reduce(0) { $0 + $1.bytes } }

    /// Bytes this run read: the kept dumps aside.
    public var bytesRead: Int {
        parts.filter { dumpsFrom == nil || !$0.name.hasPrefix("db/") }.reduce(0) { $0 + $1.bytes }
    }

    /// The database's parts: `db/globals.sql`, then each database's dump.
    public var databaseParts: [Part] { parts.filter { $0.name.hasPrefix("db/") } }

    /// The databases this backup has dumps of, in order; nil unless its database parts are `db/globals.sql`, then
    /// at least one `db/NAME.dump`.
    public var dumpedDatabases: [String]? {
        let dumps = databaseParts
        guard dumps.count > 1, dumps[0].name == "db/globals.sql",
            dumps.dropFirst().allSatisfy({ $0.name.hasSuffix(".dump") })
        else { return nil }
        return dumps.dropFirst().map { String($0.name.dropFirst("db/".count).dropLast(".dump".count)) }
    }

    /// The name the manifest has in its snapshot.
    public static let fileName = "sbs-manifest.json"
    public static let tag = "sbs-manifest"

    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public static func decode(_ text: String) throws(UserError) -> BackupManifest {
        do { return try JSONDecoder().decode(BackupManifest.self, from: Data(text.utf8)) } catch {
            throw UserError("A backup manifest could not be read: \(error)")
        }
    }
}
