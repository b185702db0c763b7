import ArgumentParser
import FoundationEssentials
import Glibc
import Installer
import Render
import SBSCore

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Read the secrets sbs keeps (root only).",
        subcommands: [Show.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the kept secrets by name, or print one (the Grafana admin password, the Supabase keys …).")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The secret to print, such as GRAFANA_ADMIN_PASSWORD. Without it, the names are listed.")
        var name: String?

        func run() async throws {
            // secrets.env is 0600 root: reading it as another user would fail anyway; say why up front.
            let output = global.session.output
            guard geteuid() == 0 else {
                throw UserError(
                    "Reading the secrets needs root.",
                    remedy: "Run `sudo sbs secrets show\(name.map { " \($0)" } ?? "")`.")
            }
            let path = global.layout.secretsFile
            guard AtomicFile.exists(path) else {
                throw UserError(
                    "No secrets are kept under \(global.layout.root) (\(path) does not exist).",
                    remedy: "Run `sbs install` first.")
            }
            let secrets = try SecretsFile(path: path).load()
            guard let name else {
                output.out("Kept in \(path) (0600):")
                for secret in secrets.names { output.out("  \(secret.value)") }
                output.out("Print one with `sbs secrets show NAME`.")
                return
            }
            guard let secretName = try? SecretName(name), let value = secrets[secretName] else {
                throw UserError(
                    "There is no secret '\(name.debugSafe)' in \(path).",
                    remedy: "Kept: \(secrets.names.map(\.value).joined(separator: ", ")).")
            }
            // The value alone on standard output, for a pipe or the person who asked; never in a log.
            output.out(value)
        }
    }
}
