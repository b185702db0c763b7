import FoundationEssentials
import SBSCore

/// The last backup that finished, kept by `sbs backup` in `/var/lib/sbs/last-backup.json` (0600): what `sbs verify`
/// and `sbs status` report without asking the repository.
public struct LastBackup: Codable, Sendable, Equatable {
    public var finished: Date
    public var repository: String
    public var manifest: BackupManifest

    public init(finished: Date, repository: String, manifest: BackupManifest) {
        self.finished = finished
        self.repository = repository
        self.manifest = manifest
    }

    public static func path(in layout: Layout) -> String { layout.stateDir + "/last-backup.json" }

    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self) + "\n"
    }

    /// The record at `path`; nil when there is none.
    /// - Throws: `UserError` when it cannot be read or parsed.
    public static func read(_ path: String) throws(UserError) -> LastBackup? {
        guard let text = try AtomicFile.readText(path, limit: .state) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(LastBackup.self, from: Data(text.utf8)) } catch {
            throw UserError("\(path) cannot be read: \(error)", remedy: "Run `sbs backup`; it writes the file again.")
        }
    }
}
