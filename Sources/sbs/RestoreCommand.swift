import ArgumentParser
import Backups
import Deploy
import FoundationEssentials
import Glibc
import Installer
import Processes
import Render
import SBSCore
import StepGraph
import Wizard

/// `sbs restore`: the repository and its credentials from the options (or the installation's answers), the
/// password from a file or typed; then `StackRestore`.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup: configuration, secrets, certificates and database; then bring the stack up.",
        discussion: """
            On a new server: install sbs (install.sh --no-run), then `sbs restore --repository REPOSITORY \
            --password-file FILE` (or type the password when asked). On a server that already runs an \
            installation, the restore replaces its database and configuration: it needs --force and the domain \
            typed as confirmation, and it backs up what it replaces first. The same secrets come back, so the \
            Supabase keys and sessions stay valid.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The backup to restore, by its run id as `sbs backup list` shows it (default: the newest).")
    var backup: String?

    @Option(
        help: ArgumentHelp(
            "The restic repository to restore from: a folder, sftp:user@host:/path, s3:https://host/bucket or rest:https://host:port/ (default: the installation's backups.repository).",
            valueName: "REPOSITORY"))
    var repository: String?

    @Option(
        help: ArgumentHelp(
            "Read the repository's password from FILE (default: the installation's BACKUP_PASSWORD; else it is asked on the terminal).",
            valueName: "FILE"))
    var passwordFile: String?

    @Option(help: ArgumentHelp("With an sftp repository: the ssh port (default 22).", valueName: "PORT"))
    var sftpPort: Int?

    @Option(
        help: ArgumentHelp(
            "With an sftp repository: the private key ssh logs in with (else root's ssh configuration is used).",
            valueName: "FILE"))
    var sftpIdentityFile: String?

    @Option(
        help: ArgumentHelp("With an sftp repository: the known_hosts file holding the server's key.", valueName: "FILE")
    )
    var sftpKnownHosts: String?

    @Option(help: ArgumentHelp("With an S3 repository: the access key's id.", valueName: "ID"))
    var s3AccessKeyID: String?

    @Option(
        help: ArgumentHelp(
            "With an S3 repository: read the secret access key from FILE (else it is asked on the terminal).",
            valueName: "FILE"))
    var s3SecretKeyFile: String?

    @Option(help: ArgumentHelp("With a REST repository that asks for a login: the user.", valueName: "USER"))
    var restUser: String?

    @Option(
        help: ArgumentHelp(
            "With a REST repository: read the user's password from FILE (else it is asked on the terminal).",
            valueName: "FILE"))
    var restPasswordFile: String?

    @Flag(help: "Replace the database and configuration of the installation this server runs.")
    var force = false

    @Option(
        help: ArgumentHelp(
            "With --force: the installation's domain, as the confirmation that would be typed (for scripts).",
            valueName: "DOMAIN"))
    var confirm: String?

    @Flag(help: "With --force: do not back up the installation the restore replaces (when it cannot be backed up).")
    var skipBackup = false

    func run() async throws {
        let session = global.session
        let layout = global.layout
        let output = session.output
        guard geteuid() == 0 else {
            throw UserError(
                "A restore writes /etc/sbs and the stack's database, which needs root.", remedy: "Run it with sudo.")
        }
        let lock = try RunLock(path: layout.lockFile, remedy: RunLock.rerunRemedy("sbs restore"))
        defer { withExtendedLifetime(lock) {} }
        // A restore stopped half-way (its record names the backup) goes on without asking again; once its
        // database is back, with the install's steps alone.
        let resuming = try PendingRestore.load(in: layout).flatMap { $0.run == (backup ?? $0.run) ? $0 : nil }
        let saved = try session.savedAnswers()

        // The repository and the options that go with it are checked before any question.
        let named = try repository.map { text throws(UserError) in try BackupRepository(text) }
        let sftpOption = try named.flatMap(sftpOption(for:))
        try checkCredentialOptions(for: named, saved: saved)
        let password = try PasswordSource(passwordFile: passwordFile.map(absolute), layout: layout)
        defer { password.cleanUp() }
        let storedSecrets = try? SecretsFile(path: layout.secretsFile).load()
        let restic: Restic
        if let checked = named {
            var options = sftpOption.map { [$0] } ?? []
            var access: Restic.Access?
            if let credentials = try givenCredentials(for: checked) {
                access = try credentials.write(for: checked, in: layout.stateDir + "/restic-access")
            } else if let saved, saved.backupRepository == checked, let storedSecrets {
                // The installation's own repository: its options and credentials.
                let own = try BackupSetup.restic(
                    for: saved, layout: layout, secrets: storedSecrets, passwordCommand: password.command)
                if sftpOption == nil { options = own.options }
                access = own.access
            }
            restic = try Restic(
                location: checked.value, passwordCommand: password.command,
                cacheDirectory: layout.stateDir + "/restic-cache", options: options, access: access)
        } else if let resuming {
            restic = try Restic(
                location: resuming.repository, passwordCommand: password.command,
                cacheDirectory: layout.stateDir + "/restic-cache", options: resuming.resticOptions,
                access: resuming.resticAccess)
        } else if let saved {
            restic = try BackupSetup.restic(
                for: saved, layout: layout, secrets: storedSecrets ?? Secrets(), passwordCommand: password.command)
        } else {
            throw ValidationError(
                "There is no installation under \(layout.root): name the repository with --repository.")
        }
        let status = try await StackRestore(
            session: session, sbsVersion: BuildVersion.version, sysroot: global.sysroot.map(absolute),
            assets: global.assets.map(absolute), force: force, skipBackup: skipBackup
        ).run(
            restic: restic, backup: backup, resuming: resuming, saved: saved, lock: lock,
            confirm: { domain in
                try DomainConfirmation(
                    domain: domain, given: confirm,
                    warning:
                        "The restore replaces the database and configuration of \(domain) (a backup of them is made first)."
                ).check()
            })
        guard status == 0 else { throw ExitCode(status) }
    }

    /// restic's `sftp.command` from the `--sftp-*` options; nil without them.
    func sftpOption(for repository: BackupRepository) throws -> String? {
        guard let sftpIdentityFile, let sftpKnownHosts else {
            guard sftpIdentityFile == nil, sftpKnownHosts == nil, sftpPort == nil else {
                throw ValidationError("Give --sftp-identity-file and --sftp-known-hosts together (and --sftp-port).")
            }
            return nil
        }
        let sftp = try SFTPAccess(
            port: try Port(sftpPort ?? 22), identityFile: absolute(sftpIdentityFile),
            knownHosts: absolute(sftpKnownHosts))
        guard let option = sftp.resticOption(for: repository) else {
            throw ValidationError("--sftp-* options apply to an sftp:user@host:/path repository only.")
        }
        return option
    }

    /// The `--s3-*` and `--rest-*` options fit the repository: each with its kind, the key's id or the user among
    /// them, and an S3 repository other than the installation's own has them.
    func checkCredentialOptions(for repository: BackupRepository?, saved: Answers?) throws {
        let s3Given = s3AccessKeyID != nil || s3SecretKeyFile != nil
        let restGiven = restUser != nil || restPasswordFile != nil
        guard let repository else {
            if s3Given || restGiven || sftpIdentityFile != nil || sftpKnownHosts != nil || sftpPort != nil {
                throw ValidationError("The --sftp-*, --s3-* and --rest-* options go with --repository.")
            }
            return
        }
        if s3Given, repository.kind != .s3 || s3AccessKeyID == nil {
            throw ValidationError("--s3-* options apply to an s3: repository, with --s3-access-key-id.")
        }
        if restGiven, repository.kind != .rest || restUser == nil {
            throw ValidationError("--rest-* options apply to a rest: repository, with --rest-user.")
        }
        if let s3AccessKeyID { _ = try SafeToken(s3AccessKeyID, what: "--s3-access-key-id") }
        if let restUser { _ = try SafeToken(restUser, what: "--rest-user") }
        if repository.kind == .s3, !s3Given, saved?.backupRepository != repository {
            throw ValidationError(
                "An S3 repository needs --s3-access-key-id (and the secret key, typed or --s3-secret-key-file).")
        }
    }

    /// The credentials the `--s3-*` or `--rest-*` options give for `repository` (checked by
    /// `checkCredentialOptions`; a secret from its file, or typed hidden); nil when none is given.
    func givenCredentials(for repository: BackupRepository) throws -> RepositoryCredentials? {
        if repository.kind == .s3, let s3AccessKeyID {
            let key = try SecretInput.read(
                file: s3SecretKeyFile.map(absolute), option: "--s3-secret-key-file",
                prompt: "The S3 secret access key for \(s3AccessKeyID): ")
            return try RepositoryCredentials.checkedS3(accessKeyID: s3AccessKeyID, secretAccessKey: key)
        }
        if repository.kind == .rest, let restUser {
            let password = try SecretInput.read(
                file: restPasswordFile.map(absolute), option: "--rest-password-file",
                prompt: "The REST server's password for \(restUser): ")
            return .rest(user: restUser, password: password)
        }
        return nil
    }
}

/// Where restic reads the repository's password: the file given, the installation's BACKUP_PASSWORD, or what was
/// typed (kept for the restore in a 0600 file of sbs's state, removed afterwards). Never in an argv or environment.
struct PasswordSource {
    let command: [String]
    private let typedFile: String?

    init(passwordFile: String?, layout: Layout) throws {
        if let passwordFile {
            guard let text = try AtomicFile.readText(passwordFile, limit: .secretFile), !text.trimmed.isEmpty else {
                throw ValidationError("--password-file \(passwordFile) does not exist or is empty.")
            }
            command = ["cat", passwordFile]
            typedFile = nil
            return
        }
        if let secrets = try? SecretsFile(path: layout.secretsFile).load(), secrets.contains(.backupPassword) {
            command = [
                InstallInputs.runningExecutable, "secrets", "show", "BACKUP_PASSWORD", "--root", layout.root,
            ]
            typedFile = nil
            return
        }
        let terminal: EditLineTerminal
        do { terminal = try EditLineTerminal() } catch {
            throw UserError(
                "The repository's password is needed, and there is no terminal to type it on.",
                remedy: "Give it with --password-file FILE (the BACKUP_PASSWORD kept away from the old server).")
        }
        guard let typed = try terminal.readSecret(prompt: "The backup repository's password (BACKUP_PASSWORD): "),
            !typed.isEmpty
        else { throw UserError("No password was typed; nothing was changed.") }
        let path = layout.stateDir + "/restore-password"
        try AtomicFile.makeDirectories(layout.stateDir, mode: 0o700)
        try AtomicFile.write(typed, to: path, mode: 0o600)
        command = ["cat", path]
        typedFile = path
    }

    func cleanUp() {
        if let typedFile { unlink(typedFile) }
    }
}

/// A secret for `sbs restore`: the file's first line, or typed hidden on the terminal.
enum SecretInput {
    static func read(file: String?, option: String, prompt: String) throws -> String {
        if let file {
            guard let text = try AtomicFile.readText(file, limit: .secretFile),
                let line = text.split(separator: "\n").first.map(String.init), !line.isEmpty
            else { throw ValidationError("\(option) \(file) does not exist or is empty.") }
            return line
        }
        let terminal: EditLineTerminal
        do { terminal = try EditLineTerminal() } catch {
            throw UserError(
                "A secret is needed (\(prompt.trimmed)) and there is no terminal to type it on.",
                remedy: "Give it with \(option) FILE.")
        }
        guard let typed = try terminal.readSecret(prompt: prompt), !typed.isEmpty else {
            throw UserError("Nothing was typed; nothing was changed.")
        }
        return typed
    }
}
