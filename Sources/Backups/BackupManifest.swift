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

    public init(run: String, sbsVersion: String, domain: String, images: [String: String], parts: [Part]) {
        self.run = run
        self.sbsVersion = sbsVersion
        self.domain = domain
        self.images = images
        self.parts = parts
    }

    /// Bytes read from the parts (before restic's deduplication and compression).
    public var bytes: Int { parts.reduce(0) { $0 + $1.bytes } }

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
