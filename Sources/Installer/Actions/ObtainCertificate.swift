import ACME
import Foundation
import SBSCore
import StepGraph
import Wizard

/// `obtain-certificate`: puts `fullchain.pem`, `privkey.pem` (0600), `cert.pem` and `chain.pem` in
/// `<root>/etc/sbs/ssl/live/DOMAIN/`, where the stack's nginx reads them. In `acme` mode it first fetches a random
/// token through `http://DOMAIN:HTTP-PORT/` (to `network.public_ip` when given), so a DNS or firewall problem is
/// reported before the CA is asked; then account, order, HTTP-01 through the webroot, finalize, download. A
/// stopped run resumes the same order; a rate limit is honoured before the CA is contacted again.
struct ObtainCertificate: InstallAction {
    var issuer = CertificateIssuer()

    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        let answers = context.answers
        var inputs = answers.facts.filter { key, _ in key.hasPrefix("tls.") }
        inputs["names"] = answers.certificateNames.map(\.value).joined(separator: ",")
        inputs["admin_email"] = answers.adminEmail?.value ?? ""
        inputs["ports.http"] = answers.httpPort.description
        inputs["network.public_ip"] = answers.publicIP ?? ""
        // Deleted, mismatched (key of another certificate) or too narrow certificate files are obtained again.
        inputs["installed"] = (try? LiveFiles.check(liveDirectory(context), covering: answers.certificateNames.map(\.value))) != nil ? "yes" : "no"
        return inputs
    }

    func liveDirectory(_ context: InstallContext) -> String {
        context.layout.sslDir + "/live/" + (context.answers.domain?.value ?? "unknown")
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        let answers = context.answers
        let names = answers.certificateNames.map(\.value)
        guard !names.isEmpty else {
            throw UserError("No domain to obtain a certificate for.", remedy: "Add `domain` to the answers and run `sbs resume`.")
        }
        let live = liveDirectory(context)
        let notAfter: Date
        switch answers.tlsMode {
        case .selfSigned:
            notAfter = try ProvidedCertificates.installSelfSigned(domains: names, liveDirectory: live).notAfter
            log.progress("self-signed certificate for \(names.joined(separator: ", ")) (browsers will warn; for LAN-only installs)")
        case .files:
            guard let cert = answers.certFile, let key = answers.keyFile else {
                throw UserError("tls.mode files needs tls.cert_file and tls.key_file.", remedy: "Add both to the answers.")
            }
            notAfter = try ProvidedCertificates.installFiles(certificatePath: cert, keyPath: key, liveDirectory: live, domains: names).notAfter
            log.progress("installed \(cert) and its key after checking they match and cover \(names.joined(separator: ", "))")
        case .acme:
            var binding: ExternalAccountBinding?
            if let kid = answers.eabKeyID, let hmac = answers.eabHMACKey {
                let key = try hmac.resolve(context.environment)
                log.runLog.addSecret(key)
                binding = try ExternalAccountBinding(keyID: kid, base64urlKey: key)
            }
            try AtomicFile.makeDirectories(context.layout.webrootDir)
            let issued = try await issuer.issue(
                domains: names, email: answers.adminEmail?.value, webroot: context.layout.webrootDir,
                directory: answers.acmeDirectory.text, caBundle: answers.acmeCABundle,
                accountDirectory: context.layout.acmeDir, liveDirectory: live, externalAccountBinding: binding,
                selfCheck: SelfCheck(port: answers.httpPort.value, resolveTo: answers.publicIP)
            ) { step in log.progress(step.description) }
            notAfter = issued.notAfter
        }
        log.progress("certificate in \(live), valid until \(notAfter.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)))")
        // The stack's nginx reads the files when it starts (start-stack); `sbs renew --post-renew` reloads it later.
        return ["live_directory": live, "mode": answers.tlsMode.rawValue]
    }
}
