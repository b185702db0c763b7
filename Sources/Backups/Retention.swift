import FoundationEssentials
import SBSCore

extension BackupJob {
    /// Which backups stay: restic's keep rules (`--keep-last 2 --keep-daily N --keep-weekly N --keep-monthly N`)
    /// applied by sbs to whole backups rather than by restic to each snapshot, since a backup's parts are kept or
    /// forgotten together and a backup may keep using the dumps of an earlier one (`DatabaseState`).
    public struct Retention: Sendable, Equatable {
        public var daily: Int
        public var weekly: Int
        public var monthly: Int

        public init(daily: Int, weekly: Int, monthly: Int) {
            self.daily = daily
            self.weekly = weekly
            self.monthly = monthly
        }

        /// Beside the newest backup of each of the last `daily` days (and weeks, months) that have one, the two
        /// newest whatever their day: a backup made by hand before an upgrade is not pruned by the same night's.
        static let last = 2

        /// A run that wrote snapshots but no manifest (killed: a power cut, kill -9) is forgotten once it is this
        /// old, not sooner: it may be a backup still running on another server that shares the repository.
        static let unfinishedAge: TimeInterval = 2 * 86400

        /// The runs kept, as `restic forget` keeps snapshots: the `last` newest; then, newest first, a run whose
        /// day (week, month) differs from the previous one kept for that rule, until the rule has kept its count.
        /// Days are UTC days of the run ids (`20261205T031500Z`), weeks ISO weeks.
        func keptRuns(_ runs: [String]) -> Set<String> {
            var kept: Set<String> = []
            let rules: [(count: Int, bucket: (String) -> String?)] = [
                (daily, { String($0.prefix(8)) }), (weekly, Self.isoWeek), (monthly, { String($0.prefix(6)) }),
            ]
            var lastBucket: [String?] = Array(repeating: nil, count: rules.count)
            var counts = Array(repeating: 0, count: rules.count)
            for (index, run) in runs.sorted(by: >).enumerated() {
                if index < Self.last { kept.insert(run) }
                for (rule, (count, bucket)) in rules.enumerated() {
                    guard counts[rule] < count, let value = bucket(run), value != lastBucket[rule] else { continue }
                    lastBucket[rule] = value
                    counts[rule] += 1
                    kept.insert(run)
                }
            }
            return kept
        }

        /// The ISO week of a run id (`2026-W49`); nil when it is not one.
        static func isoWeek(_ run: String) -> String? {
            guard let date = RunStamp.date(run) else { return nil }
            var calendar = Calendar(identifier: .iso8601)
            calendar.timeZone = .gmt
            let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            guard let year = parts.yearForWeekOfYear, let week = parts.weekOfYear else { return nil }
            return "\(year)-W\(week < 10 ? "0" : "")\(week)"
        }

        /// The snapshots of `snapshots` (sbs's, of this host) that retention forgets, the backup `current` aside:
        /// every part of a backup not kept, unless a kept backup uses it (its manifest's `sbs-uses:ID` tags), and
        /// the parts of a run that never finished once it is `unfinishedAge` old. A snapshot without a run tag is
        /// not sbs's to forget. Ids may be short (`restic backup` prints the first 8 digits).
        func forgettable(_ snapshots: [ResticSnapshot], current: String, now: Date) -> [String] {
            let manifests = snapshots.filter { $0.tags?.contains(BackupManifest.tag) == true }
            let finished = Set(manifests.compactMap(\.run))
            let kept = keptRuns(Array(finished.union([current]))).union([current])
            let used = Set(
                manifests.filter { $0.run.map(kept.contains) == true }.flatMap { $0.tags ?? [] }.compactMap {
                    $0.hasPrefix(BackupJob.usesTag) ? String($0.dropFirst(BackupJob.usesTag.count)) : nil
                })
            return snapshots.filter { snapshot in
                guard let run = snapshot.run, !kept.contains(run), !used.contains(where: snapshot.isNamed) else {
                    return false
                }
                if finished.contains(run) { return true }
                guard let started = RunStamp.date(run) else { return false }
                return now.timeIntervalSince(started) > Self.unfinishedAge
            }.map(\.id)
        }
    }
}

extension ResticSnapshot {
    /// Whether `reference` (an id as restic printed it: whole, or its first 8 digits) names this snapshot.
    func isNamed(by reference: String) -> Bool { reference.count >= 8 && id.hasPrefix(reference) }

    /// The sbs run it belongs to (its `sbs-run:ID` tag).
    var run: String? {
        tags?.first { $0.hasPrefix(BackupJob.runTag) }.map { String($0.dropFirst(BackupJob.runTag.count)) }
    }
}
