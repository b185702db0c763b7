import Backups
import FoundationEssentials
import SBSCore

/// What verify expects of the backups: one finished within two nightly schedules.
public struct BackupExpectation: Codable, Sendable, Hashable {
    /// `/var/lib/sbs/last-backup.json`.
    public var lastBackupFile: String
    /// Since when backups are due (the installation's secrets were made then): before two schedules have passed
    /// without one, a missing backup is not yet a failure.
    public var since: Date?

    public init(lastBackupFile: String, since: Date?) {
        self.lastBackupFile = lastBackupFile
        self.since = since
    }

    /// Two nightly schedules.
    public static let maximumAge: Double = 48 * 3600
}

/// The `backup` check: the last finished backup's age and size; a failure when it is older than two schedules or,
/// two schedules after the install, when there has been none.
enum BackupCheck {
    static func check(_ expectation: BackupExpectation?, now: Date) -> VerifyCheck {
        guard let expectation else { return .skip("backup", "backups are off for this installation") }
        let last: LastBackup?
        do { last = try LastBackup.read(expectation.lastBackupFile) } catch {
            return .fail("backup", error.message, remedy: error.remedy ?? "Run `sbs backup`.")
        }
        let remedy =
            "Run `sbs backup` and read what it reports; check the nightly timer with `systemctl status sbs-backup.timer sbs-backup.service`."
        guard let last else {
            if let since = expectation.since, now.timeIntervalSince(since) > BackupExpectation.maximumAge {
                return .fail(
                    "backup", "no backup has finished since the install, \(hours(now.timeIntervalSince(since))) ago",
                    remedy: remedy)
            }
            return .skip("backup", "no backup yet: the first runs tonight (sbs-backup.timer), or now with `sbs backup`")
        }
        let age = now.timeIntervalSince(last.finished)
        let detail =
            "backup \(last.manifest.run) finished \(hours(age)) ago, \(last.manifest.parts.count) parts, \(last.manifest.bytes) bytes, in \(last.repository)"
        guard age <= BackupExpectation.maximumAge else {
            return .fail("backup", detail + ": older than two nightly schedules", remedy: remedy)
        }
        return .pass("backup", detail)
    }

    static func hours(_ seconds: Double) -> String {
        seconds < 2 * 3600 ? "\(max(0, Int(seconds / 60))) min" : "\(Int(seconds / 3600)) h"
    }
}
