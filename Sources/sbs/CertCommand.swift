import ACME
import ArgumentParser
import FoundationEssentials
import Installer
import SBSCore
import Wizard

/// `sbs cert …`: certificates outside the install (a certonly for users and for benchmarks).
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Obtain certificates over ACME.", subcommands: [Issue.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue",
            abstract: "Obtain a certificate over ACME (HTTP-01 through a webroot) and install it.",
            discussion: """
                Writes fullchain.pem, privkey.pem (0600), cert.pem and chain.pem into --out (default \
                <root>/etc/sbs/ssl/live/DOMAIN). --out must not exist yet, or be what sbs made there (its link, \
                or a folder of exactly those four files): anything else is refused before the CA is asked. \
                The account and any stopped order are kept in <root>/etc/sbs/acme, so running the same command \
                again resumes.
                """)

        @OptionGroup var global: GlobalOptions

        @Option(
            name: .customLong("domain"), help: "A name for the certificate (repeat for more; the first is the primary)."
        )
        var domains: [String] = []

        @Option(help: "Contact e-mail address for the ACME account.", transform: parseEmail)
        var email: EmailAddress?

        @Option(
            help: ArgumentHelp(
                "Document root served at http://DOMAIN/ (challenge files go to DIR/.well-known/acme-challenge/).",
                valueName: "DIR"))
        var webroot: String

        @Option(help: ArgumentHelp("letsencrypt, letsencrypt-staging, or a directory URL.", valueName: "URL"))
        var directory: String = "letsencrypt"

        @Option(help: ArgumentHelp("PEM file of CA certificates to trust for the ACME server.", valueName: "FILE"))
        var caBundle: String?

        @Option(help: ArgumentHelp("Folder for the certificate files.", valueName: "DIR"))
        var out: String?

        @Flag(help: "Fetch a random token through http://DOMAIN/ before asking the CA.")
        var selfCheck = false

        @Option(
            help: ArgumentHelp("Port for the self-check (the CA's HTTP-01 port; 80 for real CAs).", valueName: "PORT"),
            transform: parsePort)
        var selfCheckPort: Int = 80

        @Option(
            help: ArgumentHelp(
                "Connect the self-check to ADDRESS instead of resolving the domain.", valueName: "ADDRESS"))
        var selfCheckResolve: String?

        @Option(help: "Certificate profile to request (checked against the CA's directory).")
        var profile: String?

        @Option(help: "External Account Binding key id (when the CA requires one).")
        var eabKid: String?

        @Option(
            help: ArgumentHelp(
                "External Account Binding HMAC key (base64url): env:NAME or file:PATH (a key written on the command line is visible in /proc and the shell history).",
                valueName: "KEY"))
        var eabHmacKey: String?

        @Flag(help: "No progress lines.")
        var quiet = false

        func validate() throws {
            if domains.isEmpty { throw ValidationError("Give at least one --domain.") }
            let distinct = Set(domains.map { $0.trimmed.lowercased() })
            if distinct.count > CertificateNames.maximum {
                throw ValidationError(
                    "\(distinct.count) --domain names were given; at most \(CertificateNames.maximum) fit on one certificate."
                )
            }
            if directory.trimmed.isEmpty {
                throw ValidationError(
                    "--directory is empty; give letsencrypt, letsencrypt-staging, or the directory's https:// URL.")
            }
            if let out, trimmingTrailingSlashes(out).isEmpty {
                throw ValidationError("--out is empty or /; give the path of the certificate folder.")
            }
            if (eabKid == nil) != (eabHmacKey == nil) {
                throw ValidationError("--eab-kid and --eab-hmac-key go together.")
            }
        }

        /// The EAB key from `env:NAME`, `file:PATH` or (with a warning) the command line itself.
        func eabKey(_ output: any CommandOutput) throws -> String {
            let source = SecretSource(eabHmacKey ?? "")
            if case .literal = source {
                output.err(
                    "sbs: warning: --eab-hmac-key on the command line is visible to other users (/proc) and in the shell history; pass env:NAME or file:PATH."
                )
            }
            return try source.resolve(stored: { nil })
        }

        func run() async throws {
            let session = global.session
            let output = session.output
            let layout = session.layout
            let primary = domains[0].lowercased()
            let liveDirectory = out.map { absolute(trimmingTrailingSlashes($0)) } ?? layout.sslDir + "/live/" + primary
            let quiet = self.quiet
            let started = ContinuousClock.now
            do {
                let binding = try eabKid.map { try ExternalAccountBinding(keyID: $0, base64urlKey: try eabKey(output)) }
                var issuer = CertificateIssuer()
                issuer.proxy = OutboundProxy.route(
                    OutboundProxy.settings(Answers(), environment: ProcessInfo.processInfo.environment))
                let issued = try await issuer.issue(
                    domains: domains, email: email?.value, webroot: absolute(webroot),
                    directory: try ACMEServer(directory),
                    caBundle: caBundle.map(absolute), accountDirectory: layout.acmeDir, liveDirectory: liveDirectory,
                    profile: profile, externalAccountBinding: binding,
                    selfCheck: selfCheck ? SelfCheck(port: selfCheckPort, resolveTo: selfCheckResolve) : nil,
                    progress: { event in if !quiet { output.err("sbs: \(event)") } })
                if !quiet {
                    let elapsed = ContinuousClock.now - started
                    output.err("sbs: done in \(decimal(elapsed.seconds, digits: 2)) s")
                }
                output.out(issued.fullchainPath)
            } catch let error as ACMEError {
                output.err("sbs: error: \(error.message)\n  → \(error.remedy)")
                throw ExitCode(1)
            }
        }
    }
}

/// An e-mail option, checked as the answers' addresses are when the command line is parsed.
func parseEmail(_ text: String) throws -> EmailAddress {
    do { return try EmailAddress(text) } catch { throw ValidationError(error.message) }
}

/// `dir/` and `dir//` are `dir` (the live path is a link named after its last component).
func trimmingTrailingSlashes(_ path: String) -> String {
    var path = Substring(path)
    while path.hasSuffix("/") { path = path.dropLast() }
    return String(path)
}

/// A TCP port option, checked (1-65535) when the command line is parsed.
func parsePort(_ text: String) throws -> Int {
    guard let number = Int(text) else { throw ValidationError("'\(text)' is not a port number (1-65535).") }
    do { return try Port(number).value } catch { throw ValidationError(error.message) }
}
