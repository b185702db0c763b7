import Backups
import Deploy
import FoundationEssentials
import Glibc
import Host
import Processes
import Render
import SBSCore
import Wizard

/// What backing up an installation needs: its answers, stack and repository (`sbs backup`, and the backup that
/// `sbs restore` and `sbs upgrade` make first).
public struct BackupSetup: Sendable {
    public let session: InstallSession
    public let layout: Layout
    public let answers: Answers
    public let project: ComposeProject
    public let restic: Restic
    public let host: String

    /// Runs restic and docker: restic reaches a repository behind the office's proxy (`OutboundProxy`).
    public var runner: SystemCommandRunner {
        OutboundProxy.with(
            SystemCommandRunner(), OutboundProxy.settings(answers, environment: ProcessInfo.processInfo.environment))
    }

    /// - Throws: `UserError` when there is no installation, backups are off, sbs is not root, or there is no
    ///   BACKUP_PASSWORD.
    public init(_ session: InstallSession) throws {
        self.session = session
        layout = session.layout
        guard let answers = try session.savedAnswers(), let project = session.installedStack() else {
            throw UserError(
                "There is no installation under \(layout.root) to back up (no answers or no deploy folder).",
                remedy: "Run `sbs install` first.")
        }
        guard answers.backups != .off else {
            throw UserError(
                "Backups are off for this installation (features.backups: false in \(layout.answersFile)).",
                remedy: "Turn them on in the answers and run `sbs install --answers FILE`.")
        }
        guard geteuid() == 0 else {
            throw UserError("Backups read the secrets and the database, which needs root.", remedy: "Run it with sudo.")
        }
        let secrets = try SecretsFile(path: layout.secretsFile).load()
        guard secrets.contains(.backupPassword) else {
            throw UserError(
                "\(layout.secretsFile) has no BACKUP_PASSWORD (it was installed by an sbs without backups).",
                remedy: "Run `sbs install --root \(layout.root)` again: it generates one (or give backups.password).")
        }
        self.answers = answers
        self.project = project
        host = answers.domain?.value ?? "sbs"
        restic = try Self.restic(
            for: answers, layout: layout, secrets: secrets,
            passwordCommand: [
                InstallInputs.runningExecutable, "secrets", "show", "BACKUP_PASSWORD", "--root", layout.root,
            ])
    }

    /// restic for the answers' repository: its password read by `passwordCommand`, an S3 or REST repository's
    /// credentials (`backups.s3`, `backups.rest`, their secrets from `secrets`) written where restic reads them.
    /// - Throws: `UserError` when an S3 repository's keys are missing from the answers or `secrets.env`.
    public static func restic(for answers: Answers, layout: Layout, secrets: Secrets, passwordCommand: [String])
        throws -> Restic
    {
        let repository = answers.backupRepository
        var access: Restic.Access?
        if let credentials = try credentials(for: answers, secrets: secrets) {
            access = try credentials.write(for: repository, in: layout.stateDir + "/restic-access")
        }
        return try Restic(
            location: repository.location(in: layout), passwordCommand: passwordCommand,
            cacheDirectory: layout.stateDir + "/restic-cache", options: answers.resticOptions, access: access)
    }

    static func credentials(for answers: Answers, secrets: Secrets) throws -> RepositoryCredentials? {
        func stored(_ secret: AnswerSecret) throws -> String? { secrets[try SecretName(secret.variable)] }
        switch answers.backupRepository.kind {
        case .s3:
            guard let id = answers.backupS3AccessKeyID, let key = try stored(.backupS3SecretKey) else {
                throw UserError(
                    "The S3 repository \(answers.backupRepository) has no access key (backups.s3 in the answers, BACKUP_S3_SECRET_ACCESS_KEY in secrets.env).",
                    remedy:
                        "Give backups.s3.access_key_id and backups.s3.secret_access_key, then run `sbs install --answers FILE`."
                )
            }
            return try RepositoryCredentials.checkedS3(accessKeyID: id.value, secretAccessKey: key)
        case .rest:
            guard let user = answers.backupRESTUser else { return nil }
            guard let password = try stored(.backupRESTPassword) else {
                throw UserError(
                    "secrets.env has no BACKUP_REST_PASSWORD for backups.rest.user \(user).",
                    remedy: "Give backups.rest.password, then run `sbs install --answers FILE`.")
            }
            return .rest(user: user.value, password: password)
        case .local, .sftp:
            return nil
        }
    }

    /// One backup of the installation (the caller holds the run lock), recorded in `last-backup.json`.
    /// - Parameter prune: apply retention afterwards (not for the backup made before a restore or an upgrade,
    ///   which must not prune what it may have to restore).
    public func backUp(prune: Bool, sbsVersion: String) async throws -> BackupManifest {
        let output = session.output
        let stamp = RunStamp.make()
        var images: [String: String] = [:]
        for service in StackService.allCases { images[service.rawValue] = answers.image(service) }
        let manifest = BackupManifest(
            run: stamp, sbsVersion: sbsVersion, domain: host, images: images, parts: [])
        var job = BackupJob(
            restic: restic, project: project, host: host, paths: [layout.etcDir, project.directory],
            manifest: manifest,
            keep: .init(
                daily: answers.backupKeep, weekly: answers.backupKeepWeekly, monthly: answers.backupKeepMonthly),
            runner: runner, progress: { output.err("sbs backup: \($0)") })
        job.prune = prune
        // The last backup into this repository, whose dumps an unchanged database keeps (an unreadable record: none).
        if let last = try? LastBackup.read(LastBackup.path(in: layout)), last.repository == restic.location {
            job.previous = last.manifest
        }
        output.err("sbs backup: backup \(stamp) into \(restic.location)")
        let done = try await job.run()
        let finished = Date()
        try AtomicFile.write(
            LastBackup(finished: finished, repository: restic.location, manifest: done).encoded(),
            to: LastBackup.path(in: layout), mode: 0o600)
        do {
            try TextfileMetrics.write(
                [
                    .init(
                        "sbs_backup_last_success_timestamp_seconds", help: "When the last good sbs backup finished.",
                        value: finished.timeIntervalSince1970.rounded(.down)),
                    .init(
                        "sbs_backup_last_size_bytes", help: "Bytes of the last good backup's parts.",
                        value: Double(done.bytes)),
                ], job: "backup", in: layout)
        } catch { output.err("sbs backup: warning: its metrics were not written: \(error.message)") }
        return done
    }
}
