import Backups
import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Verify

/// verify's `backup` check over the record `sbs backup` keeps, written as `sbs backup` writes it.
@Suite struct BackupCheckTests {
    let now = Date(timeIntervalSince1970: 1_796_515_200)

    func record(finishedHoursAgo hours: Double) throws -> String {
        let path = try Scratch.folder("last-backup") + "/last-backup.json"
        let manifest = BackupManifest(
            run: "20261205T031500Z", sbsVersion: "0.1.0", domain: "shop.example.test", images: [:],
            parts: [
                .init(name: "db/postgres.dump", snapshot: "ab12", bytes: 4096),
                .init(name: "files", snapshot: "cd34", bytes: 1024),
            ])
        let last = LastBackup(
            finished: now.addingTimeInterval(-hours * 3600), repository: "/var/backups/sbs/restic", manifest: manifest)
        try last.encoded().write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try LastBackup.read(path) == last)
        return path
    }

    @Test func aRecentBackupPassesWithItsAgeAndSize() throws {
        let check = BackupCheck.check(.init(lastBackupFile: try record(finishedHoursAgo: 20), since: nil), now: now)
        #expect(check.status == .pass, "\(check.detail)")
        #expect(check.detail.contains("20 h ago") && check.detail.contains("5120 bytes"), "\(check.detail)")
    }

    @Test func aBackupOlderThanTwoSchedulesFails() throws {
        let check = BackupCheck.check(.init(lastBackupFile: try record(finishedHoursAgo: 49), since: nil), now: now)
        #expect(check.status == .fail, "\(check.detail)")
        #expect(check.detail.contains("older than two nightly schedules"))
    }

    @Test func noBackupIsASkipRightAfterTheInstallAndAFailureTwoSchedulesLater() throws {
        let missing = try Scratch.folder("no-backup") + "/last-backup.json"
        let fresh = BackupCheck.check(.init(lastBackupFile: missing, since: now.addingTimeInterval(-3600)), now: now)
        #expect(fresh.status == .skip, "\(fresh.detail)")
        let late = BackupCheck.check(
            .init(lastBackupFile: missing, since: now.addingTimeInterval(-72 * 3600)), now: now)
        #expect(late.status == .fail, "\(late.detail)")
        #expect(late.detail.contains("no backup has finished since the install, 72 h ago"))
    }

    @Test func backupsOffIsASkipAndAnUnreadableRecordAFailure() throws {
        #expect(BackupCheck.check(nil, now: now).status == .skip)
        let path = try Scratch.folder("bad-backup") + "/last-backup.json"
        try "{not json".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(BackupCheck.check(.init(lastBackupFile: path, since: nil), now: now).status == .fail)
    }
}
