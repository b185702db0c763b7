import ACME
import Backups
import FoundationEssentials
import HTTPClient
import SBSCore
import StepGraph
import Wizard

/// `obtain-certificate`: puts `fullchain.pem`, `privkey.pem` (0600), `cert.pem` and `chain.pem` in
/// `<root>/etc/sbs/ssl/live/DOMAIN/`, where the stack's nginx reads them. In `acme` mode it first fetches a random
/// token through `http://DOMAIN:HTTP-PORT/` (to `network.public_ip` when given), so a DNS or firewall problem is
/// reported before the CA is asked; then account, order, HTTP-01 through the webroot, finalize, download. A
/// stopped run resumes the same order; a rate limit is honoured before the CA is contacted again. The certificate
/// and key are tracked by presence: `sbs renew` replaces them without making this step run again, a deleted one
/// does.
struct ObtainCertificate: StepAction {
    static let name = "obtain-certificate"
    let tools: InstallTools
    var issuer = CertificateIssuer()

    struct Input: Codable, Hashable, Sendable {
        var mode: String
        var names: [String]
        var email: String?
        var directory: ACMEServer
        var caBundle: String?
        var eabKeyID: String?
        var eabKey: KeyedDigest?
        var certFile: String?
        var keyFile: String?
        var httpPort: Int
        var publicIP: String?
        var webroot: String
        var accountDirectory: String
        var liveDirectory: String
        /// The backup `sbs restore` brought back (its database is back): a valid certificate restored with it is
        /// kept rather than ordered again. Absent otherwise (so the fingerprint of an ordinary run is unchanged).
        var restoredBackup: String?
    }

    struct Output: Codable, Hashable, Sendable {
        var liveDirectory: String
        var mode: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        let answers = context.answers
        guard let domain = answers.domain else {
            throw UserError(
                "No domain to obtain a certificate for.", remedy: "Add `domain` to the answers and run again.")
        }
        return Input(
            mode: answers.tlsMode.rawValue, names: answers.certificateNames.map(\.value),
            email: answers.adminEmail?.value,
            directory: answers.acmeDirectory, caBundle: answers.acmeCABundle, eabKeyID: answers.eabKeyID,
            eabKey: try context.secretDigest(.eabHMACKey), certFile: answers.certFile,
            keyFile: answers.keyFile, httpPort: answers.httpPort.value, publicIP: answers.publicIP,
            webroot: context.layout.webrootDir, accountDirectory: context.layout.acmeDir,
            liveDirectory: context.layout.sslDir + "/live/" + domain.value,
            restoredBackup: try PendingRestore.load(in: context.layout).flatMap { $0.databaseRestored ? $0.run : nil })
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let live = input.liveDirectory
        let products = [
            ProductFile(live + "/fullchain.pem", presence: true),
            ProductFile(live + "/privkey.pem", secret: true, presence: true),
        ]
        let output = Output(liveDirectory: live, mode: input.mode)
        let notAfter: Date
        switch TLSMode(rawValue: input.mode) ?? .acme {
        case .selfSigned:
            notAfter = try ProvidedCertificates.installSelfSigned(domains: input.names, liveDirectory: live).notAfter
            log.progress(
                "self-signed certificate for \(input.names.joined(separator: ", ")) (browsers will warn; for LAN-only installs)"
            )
        case .files:
            guard let cert = input.certFile, let key = input.keyFile else {
                throw UserError(
                    "tls.mode files needs tls.cert_file and tls.key_file.", remedy: "Add both to the answers.")
            }
            notAfter = try ProvidedCertificates.installFiles(
                certificatePath: cert, keyPath: key, liveDirectory: live, domains: input.names
            ).notAfter
            log.progress(
                "installed \(cert) and its key after checking they match and cover \(input.names.joined(separator: ", "))"
            )
        case .acme:
            // After a restore: the certificate that came back is served while it is valid (more than 30 days
            // left), rather than ordered again from the CA (whose rate limits count every duplicate).
            if let backup = input.restoredBackup, let kept = try? LiveFiles.check(live, covering: input.names),
                kept.notAfter > Date().addingTimeInterval(30 * 86400)
            {
                log.progress(
                    "kept the certificate restored from backup \(backup) (valid until \(Self.format(kept.notAfter)))")
                return StepResult(output, products: products)
            }
            var binding: ExternalAccountBinding?
            if let kid = input.eabKeyID, let digest = input.eabKey {
                guard let key = tools.secrets[.eabHMACKey], tools.digester.digest(key) == digest else {
                    throw UserError("Internal error: the EAB key is not the one this step was planned with.")
                }
                log.runLog.addSecret(key)
                binding = try ExternalAccountBinding(keyID: kid, base64urlKey: key)
            }
            try AtomicFile.makeDirectories(input.webroot)
            let port = input.httpPort
            var issuer = issuer
            issuer.proxy = OutboundProxy.route(tools.proxy)
            if let proxy = tools.proxy?.https {
                log.progress(
                    "the CA is reached through the proxy \(ProxySettings.shown(proxy)), unless no_proxy names its host (this server and the stack's names always are)"
                )
            }
            let issued = try await issuer.issue(
                domains: input.names, email: input.email, webroot: input.webroot,
                directory: input.directory, caBundle: input.caBundle,
                accountDirectory: input.accountDirectory, liveDirectory: live, externalAccountBinding: binding,
                selfCheck: SelfCheck(port: port, resolveTo: input.publicIP)
            ) { step in log.progress(step.description) }
            notAfter = issued.notAfter
        }
        // What nginx will load: the key belongs to the certificate, and it names every name.
        _ = try LiveFiles.check(live, covering: input.names)
        log.progress("certificate in \(live), valid until \(Self.format(notAfter))")
        // The stack's nginx reads the files when it starts; start-stack reloads a running nginx that serves another
        // certificate (this one replaced it), and `sbs renew` reloads it after a renewal.
        return StepResult(output, products: products)
    }

    static func format(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)) }
}
