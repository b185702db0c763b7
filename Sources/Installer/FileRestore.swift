import Backups
import FoundationEssentials
import Glibc
import Processes
import SBSCore
import Wizard

/// The files part of a backup put back under the root: restic restores the snapshot into a private folder of
/// sbs's state, then `/etc/sbs` and the deploy folder (wherever the backed-up installation's root was) replace the
/// ones here by a rename each. What they replace is moved aside into `/var/lib/sbs/replaced-STAMP/`, never deleted.
public struct FileRestore: Sendable {
    public var layout: Layout
    public var restic: Restic
    public var runner: any PipelineRunner
    /// The deploy folder the installation here uses (its kept answers), when there is one.
    public var previousDeployDir: String?
    public var stamp: String
    public var progress: @Sendable (String) -> Void

    public init(
        layout: Layout, restic: Restic, runner: any PipelineRunner, previousDeployDir: String?, stamp: String,
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.layout = layout
        self.restic = restic
        self.runner = runner
        self.previousDeployDir = previousDeployDir
        self.stamp = stamp
        self.progress = progress
    }

    /// - Returns: the folder holding what was replaced, nil when nothing was there.
    /// - Throws: `UserError` naming what failed; until the renames, nothing under the root has changed.
    public func run(snapshot: String) async throws -> String? {
        let listed = try await runner.run(restic.command(["snapshots", "--json", snapshot]), timeout: .seconds(300))
        guard listed.status == 0, let paths = try ResticSnapshot.list(listed.stdout).first?.paths else {
            throw Restic.failure("Reading snapshot \(snapshot.prefix(8))", status: listed.status, stderr: listed.stderr)
        }
        guard let etc = paths.first(where: { $0 == "/etc/sbs" || $0.hasSuffix("/etc/sbs") }),
            let deploy = paths.first(where: { $0 != etc })
        else {
            throw UserError(
                "Snapshot \(snapshot.prefix(8)) does not hold /etc/sbs and a deploy folder (it holds \(paths.joined(separator: ", ")))."
            )
        }
        let staging = layout.stateDir + "/restore-files"
        try removeTree(staging)
        try AtomicFile.makeDirectories(layout.stateDir, mode: 0o700)
        guard mkdir(staging, 0o700) == 0 else { throw AtomicFile.systemError("mkdir", staging) }
        progress("restoring /etc/sbs and the deploy folder from snapshot \(snapshot.prefix(8))")
        let restored = try await runner.run(
            restic.command(["restore", snapshot, "--target", staging]), timeout: .seconds(6 * 3600))
        guard restored.status == 0 else {
            throw Restic.failure(
                "Restoring snapshot \(snapshot.prefix(8))", status: restored.status, stderr: restored.stderr)
        }
        let restoredEtc = staging + etc
        let restoredDeploy = staging + deploy
        let answers = try AnswersFile.load(restoredEtc + "/answers.yaml")
        let targetDeploy = layout.resolve(answers.deployDir)

        var aside: String?
        var moved = Set<String>()
        for (current, name) in [
            (layout.etcDir, "etc-sbs"), (previousDeployDir.map(layout.resolve) ?? targetDeploy, "deploy"),
            (targetDeploy, "deploy-target"),
        ] where AtomicFile.exists(current) && !moved.contains(current) {
            let folder = layout.stateDir + "/replaced-" + stamp
            if aside == nil {
                guard mkdir(folder, 0o700) == 0 || errno == EEXIST else {
                    throw AtomicFile.systemError("mkdir", folder)
                }
                aside = folder
            }
            try move(current, to: folder + "/" + name)
            moved.insert(current)
        }
        try move(restoredEtc, to: layout.etcDir)
        try move(restoredDeploy, to: targetDeploy)
        try removeTree(staging)
        try keepSecretsAsStored(deployDir: targetDeploy)
        progress(
            "/etc/sbs and \(targetDeploy) restored\(aside.map { "; what they replaced is in \($0)" } ?? "")")
        return aside
    }

    /// The restored answers name their secrets as the old server read them (`env:NAME`, `file:/path`), which this
    /// server may not have; their values came back in `secrets.env`, so each one kept there is named `stored`.
    func keepSecretsAsStored(deployDir: String) throws {
        let answers = try AnswersFile.load(layout.answersFile)
        let rewritten = AnswerSecretValues.namingStored(
            answers, kept: AnswerSecretValues.stored(in: layout.secretsFile, deployEnv: deployDir + "/.env"))
        guard rewritten.secretSources != answers.secretSources else { return }
        try AtomicFile.write(AnswersFile.render(rewritten), to: layout.answersFile, mode: 0o600)
        progress("the answers' secrets are read from the restored secrets.env (`stored`)")
    }

    func move(_ from: String, to destination: String) throws(UserError) {
        try AtomicFile.makeDirectories(AtomicFile.parentDirectory(of: destination))
        guard rename(from, destination) == 0 else { throw AtomicFile.systemError("rename", from) }
        AtomicFile.syncDirectory(AtomicFile.parentDirectory(of: destination))
    }

    func removeTree(_ path: String) throws(UserError) {
        guard AtomicFile.exists(path) else { return }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            throw UserError(
                "\(path) could not be removed: \(error)", remedy: "Remove it by hand, then run the restore again.")
        }
    }
}
