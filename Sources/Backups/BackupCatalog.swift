import FoundationEssentials
import Processes
import SBSCore

/// The backups in a repository: the runs whose manifest was stored (a run without one did not finish), newest
/// first.
public struct BackupCatalog: Sendable {
    public struct Entry: Sendable, Equatable {
        /// The manifest's snapshot.
        public var snapshot: ResticSnapshot
        public var manifest: BackupManifest
    }

    public let restic: Restic
    public let runner: any PipelineRunner

    public init(restic: Restic, runner: any PipelineRunner) {
        self.restic = restic
        self.runner = runner
    }

    public func entries() async throws(UserError) -> [Entry] {
        let listed = try await runner.run(
            restic.command(["snapshots", "--json", "--tag", BackupManifest.tag]), timeout: .seconds(300))
        guard listed.status == 0 else {
            throw Restic.failure(
                "Listing the backups in \(restic.location)", status: listed.status, stderr: listed.stderr)
        }
        var entries: [Entry] = []
        for snapshot in try ResticSnapshot.list(listed.stdout) {
            let dumped = try await runner.run(
                restic.command(["dump", snapshot.id, "/" + BackupManifest.fileName]), timeout: .seconds(120))
            guard dumped.status == 0 else {
                throw Restic.failure(
                    "Reading the manifest of snapshot \(snapshot.id.prefix(8))", status: dumped.status,
                    stderr: dumped.stderr)
            }
            entries.append(Entry(snapshot: snapshot, manifest: try BackupManifest.decode(dumped.stdout)))
        }
        return entries.sorted { $0.manifest.run > $1.manifest.run }
    }
}
