import ArgumentParser
import Deploy
import FoundationEssentials
import Glibc
import Installer
import Migration
import Processes
import SBSCore
import StepGraph
import Wizard

/// `sbs migrate`: the options, the password, the confirmation; then `Migration`.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Bring a hosted Supabase project's data onto this server: schema, tables and users, verified.",
        discussion: """
            Run it after `sbs install` has finished. It reads the source with psql and pg_dump (this host needs \
            PostgreSQL's client programs, as new as the source's server) and writes into the stack's database. \
            Each table is copied in one transaction and verified (row counts and a checksum of its primary key on \
            both sides); the progress is kept in /var/lib/sbs/migration.json, so a run that was stopped goes on \
            with the tables not yet verified. Stop the apps that write to the hosted project first.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "The hosted database: postgres://USER@HOST:PORT/DATABASE (its session pooler or direct connection; TLS is required unless it is on this host).",
            valueName: "URL"))
    var from: String

    @Option(
        help: ArgumentHelp(
            "The source's password: env:NAME (an environment variable) or file:PATH (the file's first line). Without it, it is asked on the terminal when the source wants one.",
            valueName: "SOURCE"))
    var password: String?

    @Option(
        help: ArgumentHelp(
            "A schema to move, definitions and data (repeatable; default public). Supabase's own schemas are refused: the users are carried anyway.",
            valueName: "NAME"))
    var schema: [String] = []

    @Option(
        help: ArgumentHelp(
            "Copy only this table's data (repeatable; SCHEMA.TABLE or TABLE for public; default: every table of the schemas).",
            valueName: "TABLE"))
    var table: [String] = []

    @Option(
        help: ArgumentHelp(
            "Migrate into this PostgreSQL instead of the stack's database (postgres://USER@HOST:PORT/DATABASE, logging in without a password): a scratch server to try a migration on.",
            valueName: "URL"))
    var to: String?

    @Flag(help: "Show what would move and write nothing.")
    var dryRun = false

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    @Flag(help: "Print the final report as JSON.")
    var json = false

    func run() async throws {
        let session = global.session
        let layout = global.layout
        let output = session.output
        let sourceURL = try SourceURL(from)
        let options = MigrationOptions(
            schemas: schema.isEmpty ? ["public"] : schema,
            tables: try table.map { text throws(UserError) in try TableName(parsing: text) })
        try options.validate()
        let given = try readPassword()

        let target: Database
        var stack: ComposeProject?
        if let to {
            let url = try SourceURL(to, option: "--to")
            target = Database(access: .connection(url.connectionString), name: "the database \(url)")
        } else {
            guard try session.savedAnswers() != nil, let project = session.installedStack() else {
                throw UserError(
                    "There is no installation under \(layout.root) to migrate into.",
                    remedy: "Run `sbs install` first, then sbs migrate.")
            }
            guard geteuid() == 0 else {
                throw UserError(
                    "sbs migrate writes into the stack's database through Docker, which needs root.",
                    remedy: "Run it with sudo.")
            }
            try await Self.checkStack(project, runner: SystemCommandRunner())
            target = try await .stack(project, runner: SystemCommandRunner())
            stack = project
        }
        let lock = try RunLock(path: layout.lockFile, remedy: RunLock.rerunRemedy("sbs migrate"))
        defer { withExtendedLifetime(lock) {} }

        var passwordFile = try PasswordFile(password: given, for: sourceURL)
        func migration() -> Migration {
            let environment = passwordFile.path.map { ["PGPASSFILE": $0] } ?? [:]
            return Migration(
                sourceURL: sourceURL, target: target, options: options, statePath: MigrationState.path(in: layout),
                runner: SystemCommandRunner(environment: environment), progress: { output.err("sbs migrate: \($0)") })
        }
        if given == nil, await migration().sourceAsksForPassword() {
            let typed = try SecretPrompt.read(
                prompt: "Password of \(sourceURL.user) on \(sourceURL.host): ",
                remedy: "Give it with --password env:NAME or --password file:PATH.")
            passwordFile = try PasswordFile(password: typed, for: sourceURL)
        }
        let migrate = migration()
        let preflight = try await migrate.preflight()
        let summary = preflight.summary(source: sourceURL.description, target: target.name).joined(separator: "\n")
        if dryRun {
            output.out(summary)
            output.out("Dry run: nothing was written.")
            return
        }
        output.err(summary)
        if !yes { try Self.confirm() }
        let report = try await migrate.run(preflight)
        withExtendedLifetime(passwordFile) {}
        output.out(String((json ? report.json() : report.text()).dropLast()))
        guard report.passed else {
            throw UserError(
                "\(report.tables.filter { !$0.equal }.count) table(s) differ between the source and the server.",
                remedy:
                    "Stop the apps writing to the source, then run sbs migrate again: the tables that differ are copied anew."
            )
        }
        if stack != nil && report.tables.contains(where: { $0.table.hasPrefix("auth.") }) {
            output.err(
                "sbs migrate: the users log in with their passwords as before. Sessions and API keys of the hosted project no longer work: give the apps this server's keys, SUPABASE_ANON_KEY in \(layout.secretsFile) (`sbs secrets show SUPABASE_ANON_KEY`)."
            )
        }
    }

    /// `--password env:NAME` or `file:PATH`, read and checked; nil without the option.
    func readPassword() throws(UserError) -> String? {
        guard let password else { return nil }
        let value: String?
        if password.hasPrefix("env:") {
            let name = String(password.dropFirst(4))
            value = ProcessInfo.processInfo.environment[name]
            guard let value, !value.isEmpty else {
                throw UserError("--password \(password): the variable \(name) is not set or empty.")
            }
        } else if password.hasPrefix("file:") {
            let path = String(password.dropFirst(5))
            guard let text = try AtomicFile.readText(path, limit: .secretFile),
                let line = text.split(separator: "\n", omittingEmptySubsequences: false).first, !line.isEmpty
            else { throw UserError("--password \(password): the file does not exist or its first line is empty.") }
            value = String(line)
        } else {
            throw UserError(
                "--password takes env:NAME or file:PATH, never the password itself (it would be in the process list).",
                remedy: "Put it in a variable or a file (mode 0600), or leave --password out and type it when asked.")
        }
        if let value, value.contains("\n") || value.contains("\r") {
            throw UserError("--password \(password): the password holds a line break.")
        }
        return value
    }

    /// The stack's database must be up and healthy, and GoTrue running (it owns the auth tables the users go into).
    static func checkStack(_ project: ComposeProject, runner: any CommandRunner) async throws(UserError) {
        let containers = try await project.containers(runner)
        for (service, needsHealth) in [("app-db", true), ("app-auth", false)] {
            guard let container = containers.first(where: { $0.service == service }) else {
                throw UserError(
                    "The stack's \(service) is not running.",
                    remedy: "Start the stack (`sbs install` or `sbs resume`), then run sbs migrate again.")
            }
            guard container.state == "running",
                !needsHealth || container.health == "healthy" || container.health.isEmpty
            else {
                throw UserError(
                    "The stack's \(service) is \(container.state)\(container.health.isEmpty ? "" : ", \(container.health)").",
                    remedy: "Check it with `sbs status` and `sbs verify`, then run sbs migrate again.")
            }
        }
    }

    static func confirm() throws {
        let terminal: EditLineTerminal
        do { terminal = try EditLineTerminal() } catch {
            throw UserError(
                "sbs migrate asks for a confirmation, and there is no terminal; nothing was written.",
                remedy: "Look at the plan with --dry-run, then run it with --yes.")
        }
        let answer = terminal.readLine(prompt: "Migrate? [y/N] ", initial: "", completions: [])?.trimmed.lowercased()
        guard answer == "y" || answer == "yes" else { throw UserError("Not confirmed; nothing was written.") }
    }
}

/// A secret typed hidden on the terminal.
enum SecretPrompt {
    static func read(prompt: String, remedy: String) throws -> String {
        let terminal: EditLineTerminal
        do { terminal = try EditLineTerminal() } catch {
            throw UserError("A password is needed and there is no terminal to type it on.", remedy: remedy)
        }
        guard let typed = try terminal.readSecret(prompt: prompt), !typed.isEmpty else {
            throw UserError("Nothing was typed; nothing was written.")
        }
        return typed
    }
}
