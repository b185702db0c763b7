import Crypto
import FoundationEssentials
import HTTPClient
import SBSCore
import X509

/// Whether a certificate should be renewed now, and why.
public struct RenewalDecision: Sendable, Equatable {
    public enum Source: String, Sendable { case ari, lifetime }
    public var due: Bool
    /// When renewal becomes due (in the past when `due`).
    public var renewAt: Date
    public var source: Source
    public var reason: String
    /// The ARI certID, to send as `replaces` in the renewal order.
    public var certID: String?
    public var explanationURL: String?
}

public enum RenewalPolicy {
    /// Renew when a third of the lifetime is left (Let's Encrypt's own advice for clients without ARI).
    public static func lifetime(notBefore: Date, notAfter: Date, now: Date) -> RenewalDecision {
        let lifetime = notAfter.timeIntervalSince(notBefore)
        let renewAt = notAfter.addingTimeInterval(-lifetime / 3)
        let due = now >= renewAt
        let left = notAfter.timeIntervalSince(now)
        let days = (left / 86400 * 10).rounded() / 10
        return RenewalDecision(
            due: due, renewAt: renewAt, source: .lifetime,
            reason: due
                ? "\(days) days of \(Int((lifetime / 86400).rounded())) left (renewing at one third left)"
                : "not due before \(RFC3339.format(renewAt)) (one third of the lifetime left)",
            certID: nil)
    }

    /// RFC 9773 section 4.2: pick a uniformly random time in the suggested window; renew when it has passed.
    /// A window that ends before it starts is ignored (nil).
    /// - Parameter fraction: where in the window to renew, 0...1 (random by default; fixed in tests).
    public static func ari(
        _ info: RenewalInfo, certID: String, now: Date, fraction: Double = Double.random(in: 0..<1)
    ) -> RenewalDecision? {
        guard let start = RFC3339.parse(info.suggestedWindow.start), let end = RFC3339.parse(info.suggestedWindow.end),
            end >= start
        else { return nil }
        let renewAt = start.addingTimeInterval(end.timeIntervalSince(start) * min(max(fraction, 0), 1))
        let due = now >= renewAt
        return RenewalDecision(
            due: due, renewAt: renewAt, source: .ari,
            reason: due
                ? "the CA's renewal window (\(info.suggestedWindow.start) … \(info.suggestedWindow.end)) has begun"
                : "the CA suggests renewing between \(info.suggestedWindow.start) and \(info.suggestedWindow.end)",
            certID: certID, explanationURL: info.explanationURL)
    }
}

extension CertificateIssuer {
    /// Decides whether the certificate in `liveDirectory` is due: ARI when the CA's directory offers
    /// `renewalInfo`, otherwise (or when ARI fails) the one-third-of-lifetime rule. An expired certificate is
    /// always due.
    /// - Throws: `ACMEError` (`.local`) when `cert.pem` is missing or does not parse. ARI failures do not
    ///   throw; they fall back to the lifetime rule.
    public func renewalDecision(
        liveDirectory: String, directory: ACMEServer?, caBundle: String?, fraction: Double = Double.random(in: 0..<1)
    ) async throws -> RenewalDecision {
        let path = liveDirectory + "/cert.pem"
        guard let pem = try FileIO.readText(path, limit: .pem) else {
            throw ACMEError.local("\(path) does not exist.", remedy: "Issue the certificate first (sbs cert issue).")
        }
        let leaf = try CertificateTools.parseChain(pem, what: path)[0]
        let now = clock.now
        let lifetime = RenewalPolicy.lifetime(notBefore: leaf.notValidBefore, notAfter: leaf.notValidAfter, now: now)
        if now >= leaf.notValidAfter {
            var expired = lifetime
            expired.reason = "expired at \(RFC3339.format(leaf.notValidAfter))"
            return expired
        }
        guard let directoryURL = directory?.url,
            let certID = try? CertificateTools.certID(of: leaf)
        else { return lifetime }
        // ARI is an unauthenticated GET: no account key is needed; a throw-away key satisfies the client.
        let client = ACMEClient(
            directoryURL: directoryURL, accountKey: P256.Signing.PrivateKey(), accountURL: nil,
            registration: AccountRegistration(email: nil),
            transport: makeTransport(HTTPOptions(caBundle: caBundle, proxy: proxy)), clock: clock)
        guard let (info, _) = try? await client.renewalInfo(certID: certID),
            let decision = RenewalPolicy.ari(info, certID: certID, now: now, fraction: fraction)
        else {
            var fallback = lifetime
            fallback.certID = certID
            return fallback
        }
        return decision
    }

    /// The renewal decision for the certificate of `liveDirectory` with its kept moment in the ARI window (chosen
    /// and saved with its renewal settings on the first call), without renewing anything.
    /// - Throws: `ACMEError` (`.local`) when no renewal settings are kept for it, or as `renewalDecision`.
    public func plannedRenewal(liveDirectory: String, accountDirectory: String) async throws -> RenewalDecision {
        guard let config = try RenewalConfig.load(accountDirectory: accountDirectory, liveDirectory: liveDirectory)
        else {
            throw ACMEError.local(
                "No renewal parameters for \(liveDirectory) (it was not issued by sbs over ACME).",
                remedy: "Issue it with `sbs cert issue`, or renew it the way it was obtained.")
        }
        return try await withAccountLock(accountDirectory, progress: { _ in }) {
            try await keptDecision(config: config, accountDirectory: accountDirectory)
        }
    }

    private func keptDecision(config: RenewalConfig, accountDirectory: String) async throws -> RenewalDecision {
        var config = config
        let fraction: Double
        if let kept = config.ariFraction {
            fraction = kept
        } else {
            fraction = Double.random(in: 0..<1)
            config.ariFraction = fraction
            try config.save(accountDirectory: accountDirectory)
        }
        return try await renewalDecision(
            liveDirectory: config.liveDirectory, directory: try? ACMEServer(config.directoryURL),
            caBundle: config.caBundle,
            fraction: fraction)
    }

    public enum RenewalOutcome: Sendable, Equatable {
        case notDue(RenewalDecision)
        case renewed(RenewalDecision, IssuedCertificate)
    }

    /// Renews the certificate in `liveDirectory` when it is due, with the parameters it was issued with
    /// (kept by `issue` under `accountDirectory/renewal/`), sending `replaces` when the CA offers ARI.
    /// - Throws: `ACMEError` (`.local` when no renewal parameters are stored), and whatever `issue` throws.
    public func renewIfDue(
        liveDirectory: String, accountDirectory: String, force: Bool = false,
        progress: @escaping @Sendable (IssuanceProgress) -> Void = { _ in }
    ) async throws -> RenewalOutcome {
        try await withAccountLock(accountDirectory, progress: progress) {
            try await renewHoldingLock(
                liveDirectory: liveDirectory, accountDirectory: accountDirectory, force: force,
                progress: progress)
        }
    }

    private func renewHoldingLock(
        liveDirectory: String, accountDirectory: String, force: Bool,
        progress: @escaping @Sendable (IssuanceProgress) -> Void
    ) async throws -> RenewalOutcome {
        guard let config = try RenewalConfig.load(accountDirectory: accountDirectory, liveDirectory: liveDirectory)
        else {
            throw ACMEError.local(
                "No renewal parameters for \(liveDirectory) (it was not issued by sbs over ACME).",
                remedy: "Issue it with `sbs cert issue`, or renew it the way it was obtained.")
        }
        // Before the CA is asked anything (its renewal window included): the live path is still sbs's to replace.
        try LiveFiles.checkReplaceable(liveDirectory)
        var decision = try await keptDecision(config: config, accountDirectory: accountDirectory)
        guard decision.due || force else { return .notDue(decision) }
        if force && !decision.due { decision.reason = "forced (" + decision.reason + ")" }
        let directory: ACMEServer
        do { directory = try ACMEServer(config.directoryURL) } catch {
            throw ACMEError.local(
                "The renewal settings of \(liveDirectory): \(error.message)",
                remedy: error.remedy ?? "Issue the certificate again with `sbs cert issue`.")
        }
        let issued = try await issue(
            domains: config.domains, email: config.email, webroot: config.webroot, directory: directory,
            caBundle: config.caBundle, accountDirectory: accountDirectory, liveDirectory: liveDirectory,
            profile: config.profile, replaces: decision.source == .ari ? decision.certID : nil, progress: progress)
        return .renewed(decision, issued)
    }
}

/// The TLS modes without ACME: `self-signed` (LAN-only installs) and `files` (bring your own).
public enum ProvidedCertificates {
    /// Writes a new self-signed certificate for `domains` into `liveDirectory` (same four files as ACME;
    /// chain.pem is empty).
    /// - Throws: `ACMEError` (`.local`).
    @discardableResult
    public static func installSelfSigned(domains: [String], liveDirectory: String, days: Int = 397) throws -> (
        notAfter: Date, certificatePEM: String
    ) {
        let names = try CertificateIssuer.normalize(domains)
        let made = try CertificateTools.makeSelfSigned(domains: names, days: days)
        try LiveFiles.write(leafPEM: made.certificatePEM, chainPEMs: [], keyPEM: made.keyPEM, to: liveDirectory)
        let leaf = try CertificateTools.parseChain(made.certificatePEM, what: "the self-signed certificate")[0]
        return (leaf.notValidAfter, made.certificatePEM)
    }

    /// Checks that the key belongs to the first certificate of the chain file, and that it is currently valid
    /// and names `domains` (when given), then copies both into `liveDirectory`.
    /// - Throws: `ACMEError` (`.local`) naming the file and the mismatch.
    @discardableResult
    public static func installFiles(
        certificatePath: String, keyPath: String, liveDirectory: String, domains: [String] = [], now: Date = Date()
    ) throws -> (notAfter: Date, names: [String]) {
        guard let chainPEM = try FileIO.readText(certificatePath, limit: .pem) else {
            throw ACMEError.local(
                "The certificate file \(certificatePath) does not exist.",
                remedy: "Give the path of a PEM certificate (full chain).")
        }
        guard let keyText = try FileIO.readText(keyPath, limit: .pem) else {
            throw ACMEError.local(
                "The key file \(keyPath) does not exist.", remedy: "Give the path of the PEM private key.")
        }
        let chain = try CertificateTools.parseChain(chainPEM, what: certificatePath)
        let leaf = chain[0]
        let key: Certificate.PrivateKey
        do { key = try Certificate.PrivateKey(pemEncoded: keyText) } catch {
            throw ACMEError.local(
                "\(keyPath) is not a PEM private key sbs can read (RSA, P-256, P-384, P-521; unencrypted): \(error)",
                remedy: "Give the unencrypted PEM key (openssl pkey -in KEY -out key.pem).")
        }
        guard CertificateTools.matches(key, leaf) else {
            throw ACMEError.local(
                "The key \(keyPath) does not belong to the certificate \(certificatePath).",
                remedy:
                    "Give the key that was generated with this certificate's request (compare `openssl x509 -pubkey` and `openssl pkey -pubout`)."
            )
        }
        guard now < leaf.notValidAfter else {
            throw ACMEError.local(
                "The certificate \(certificatePath) expired at \(RFC3339.format(leaf.notValidAfter)).",
                remedy: "Renew it with its CA and give the new files.")
        }
        let names = CertificateTools.dnsNames(of: leaf).map { $0.lowercased() }
        for domain in domains.map({ $0.lowercased() })
        where !names.contains(domain) && !names.contains(wildcardOf(domain)) {
            throw ACMEError.local(
                "The certificate \(certificatePath) does not cover \(domain) (it names \(names.joined(separator: ", "))).",
                remedy: "Give a certificate whose subjectAltName includes \(domain).")
        }
        let blocks = pemBlocks(in: chainPEM)
        let keyBlocks = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"].flatMap {
            pemBlocks(in: keyText, label: $0)
        }
        try LiveFiles.write(
            leafPEM: blocks[0], chainPEMs: Array(blocks.dropFirst()), keyPEM: keyBlocks.first ?? keyText,
            to: liveDirectory)
        return (leaf.notValidAfter, names)
    }

    private static func wildcardOf(_ domain: String) -> String {
        guard let dot = domain.firstIndex(of: ".") else { return domain }
        return "*" + domain[dot...]
    }
}
