import Crypto
import FoundationEssentials
import HTTPClient
import SBSCore
import SwiftASN1
import X509

/// The HTTP-01 self-check that runs before the CA is asked: can this domain's challenge URL be fetched?
public struct SelfCheck: Sendable, Equatable {
    /// The port the CA would use (80 for real CAs; a test's nginx port otherwise).
    public var port: Int
    /// Connect to this address instead of resolving the domain (as `curl --resolve`), e.g. 127.0.0.1 to test
    /// the local web server alone. nil resolves the name through DNS, as the CA would.
    public var resolveTo: String?
    public var timeout: Duration

    public init(port: Int = 80, resolveTo: String? = nil, timeout: Duration = .seconds(10)) {
        self.port = port
        self.resolveTo = resolveTo
        self.timeout = timeout
    }
}

/// What an issuance produced.
public struct IssuedCertificate: Sendable, Equatable {
    public var domains: [String]
    public var liveDirectory: String
    public var fullchainPath: String { liveDirectory + "/fullchain.pem" }
    public var privateKeyPath: String { liveDirectory + "/privkey.pem" }
    public var certificatePath: String { liveDirectory + "/cert.pem" }
    public var chainPath: String { liveDirectory + "/chain.pem" }
    public var notBefore: Date
    public var notAfter: Date
    /// The ARI certID, when the certificate has an Authority Key Identifier.
    public var certID: String?
    public var orderURL: String
    public var accountURL: String
    /// Requests sent to the CA, and how many of them were repeats after `badNonce`.
    public var requests: Int = 0
    public var badNonceRetries: Int = 0
}

/// Obtains certificates over ACME with HTTP-01 through a webroot. One call does all of it: self-check
/// (optional), account, order (resumed when a previous run stopped), challenges, finalize, download, and
/// the four PEM files in the live folder.
public struct CertificateIssuer: Sendable {
    public typealias TransportFactory = @Sendable (HTTPOptions) -> any HTTPTransport

    let makeTransport: TransportFactory
    let clock: any ACMEClock
    /// Limits on waiting for the CA (validation, issuance).
    public var maxPollDelay: Duration = .seconds(60)
    public var pollTimeout: Duration = .seconds(180)
    /// How long an authorization that stays `pending` with a challenge error is still polled (the CA may retry).
    public var challengeProblemGrace: Duration = .seconds(5)
    /// How requests to the CA leave this server (an office's proxy), and the self-check's when it is not pinned to
    /// an address (`SelfCheck.resolveTo`: a proxy would resolve the name itself).
    public var proxy: ProxyRoute = .direct

    public init(
        transport: @escaping TransportFactory = { CurlTransport(options: $0) },
        clock: any ACMEClock = SystemACMEClock()
    ) {
        self.makeTransport = transport
        self.clock = clock
    }

    /// Issues a certificate for `domains` and installs it in `liveDirectory`.
    ///
    /// - Parameters:
    ///   - domains: the names, first one the primary (CN); the certificate's SANs are exactly these.
    ///   - email: the account's contact (optional for most CAs).
    ///   - webroot: the document root the web server serves on port 80; challenge files are written to
    ///     `webroot/.well-known/acme-challenge/TOKEN` (0644, folders 0755) and removed afterwards.
    ///   - directory: the CA's directory (`ACMEServer`: Let's Encrypt, its staging, or a URL sbs accepts).
    ///   - caBundle: PEM file of CAs to trust for the ACME server (private CAs, Pebble).
    ///   - accountDirectory: where the account key, account URL and in-flight orders live (`<root>/etc/sbs/acme`).
    ///   - liveDirectory: receives `fullchain.pem`, `privkey.pem` (0600), `cert.pem`, `chain.pem`.
    ///   - selfCheck: fetch a random token through `http://DOMAIN:PORT/` first, so DNS or firewall problems are
    ///     reported before the CA is asked (and before its failed-validation limits count).
    ///   - replaces: ARI certID of the certificate this renews (sent only to CAs that offer ARI).
    ///   - resolve: `host:port:address` overrides for the connection to the CA.
    /// - Throws: `ACMEError`: `.selfCheckFailed`, `.rateLimited` (also without contacting the CA while an
    ///   earlier rate limit lasts), `.unauthorized`/`.connection`/`.dns` naming the URL the CA fetched,
    ///   `.transport`, `.server`, `.orderFailed`, `.accountSetup`, `.local`; `CancellationError`. The order
    ///   state stays on disk, so the next call resumes.
    public func issue(
        domains: [String], email: String?, webroot: String, directory: ACMEServer, caBundle: String? = nil,
        accountDirectory: String, liveDirectory: String, profile: String? = nil,
        externalAccountBinding: ExternalAccountBinding? = nil, selfCheck: SelfCheck? = nil,
        replaces: String? = nil, resolve: [String] = [],
        progress: @escaping @Sendable (IssuanceProgress) -> Void = { _ in }
    ) async throws -> IssuedCertificate {
        let domains = try Self.normalize(domains)
        let directoryURL = directory.url
        if let email { try Self.checkEmail(email) }
        try Self.checkWebroot(webroot)
        if let caBundle { try Self.checkCABundle(caBundle) }
        try LiveFiles.checkReplaceable(liveDirectory)
        return try await withAccountLock(accountDirectory, progress: progress) {
            try await issueHoldingLock(
                domains: domains, email: email, webroot: webroot, directoryURL: directoryURL, caBundle: caBundle,
                accountDirectory: accountDirectory, liveDirectory: liveDirectory, profile: profile,
                externalAccountBinding: externalAccountBinding, selfCheck: selfCheck, replaces: replaces,
                resolve: resolve, progress: progress)
        }
    }

    /// `issue` once its inputs are checked, with the store's lock held.
    private func issueHoldingLock(
        domains: [String], email: String?, webroot: String, directoryURL: String, caBundle: String?,
        accountDirectory: String, liveDirectory: String, profile: String?,
        externalAccountBinding: ExternalAccountBinding?, selfCheck: SelfCheck?, replaces: String?, resolve: [String],
        progress: @escaping @Sendable (IssuanceProgress) -> Void
    ) async throws -> IssuedCertificate {
        let store = AccountStore(accountDirectory: accountDirectory, directoryURL: directoryURL)
        var state = try store.loadOrder(for: domains) ?? OrderState(identifiers: domains)
        // A rate limit the CA announced is honoured before anything is sent.
        if let notBefore = state.notBefore, notBefore > clock.now {
            throw ACMEError(
                .rateLimited,
                "The CA rate-limited these names earlier; sbs will not ask again before \(RFC3339.format(notBefore)).",
                remedy: "Wait until then and run the same command. The earlier error: \(state.lastError ?? "-")",
                retryAfter: notBefore)
        }

        if let selfCheck {
            for domain in domains {
                try await runSelfCheck(domain: domain, webroot: webroot, check: selfCheck, progress: progress)
            }
        }

        let (accountKey, _) = try store.loadOrCreateKey()
        let registration = AccountRegistration(email: email, externalAccountBinding: externalAccountBinding)
        let record = try store.loadAccount()
        let client = ACMEClient(
            directoryURL: directoryURL, accountKey: accountKey, accountURL: record?.url, registration: registration,
            transport: makeTransport(HTTPOptions(caBundle: caBundle, resolve: resolve, proxy: proxy)), clock: clock,
            progress: progress)
        await client.setPolling(maxDelay: maxPollDelay, timeout: pollTimeout)

        do {
            progress(.directory(url: directoryURL))
            let acmeDirectory = try await client.loadDirectory()
            if let profile { try ACMEClient.checkProfile(profile, in: acmeDirectory) }
            if let record {
                progress(.accountReused(url: record.url))
                if record.contact != registration.contact { try await client.updateContact() }
            } else {
                let url = try await client.register()
                progress(.accountCreated(url: url))
            }
            try await saveAccountIfChanged(client: client, store: store, previous: record, registration: registration)

            let result = try await runOrder(
                client: client, state: &state, store: store, domains: domains, webroot: webroot,
                profile: profile, replaces: replaces, progress: progress)
            try await saveAccountIfChanged(client: client, store: store, previous: record, registration: registration)

            var issued = try install(
                chainPEM: result.chain, keyPEM: result.keyPEM, domains: domains, liveDirectory: liveDirectory,
                orderURL: result.orderURL, accountURL: await client.accountURL ?? "")
            issued.requests = await client.requestCount
            issued.badNonceRetries = await client.badNonceRetries
            try RenewalConfig(
                domains: domains, email: email, webroot: webroot, directoryURL: directoryURL, caBundle: caBundle,
                profile: profile, liveDirectory: liveDirectory
            ).save(accountDirectory: accountDirectory)
            store.removeOrder(for: domains)
            progress(.installed(directory: liveDirectory, notAfter: issued.notAfter))
            return issued
        } catch {
            // Keep what a later run needs: the order URL (already saved), the account if it was re-registered,
            // and for a rate limit the time before which the CA must not be asked again.
            try? await saveAccountIfChanged(client: client, store: store, previous: record, registration: registration)
            if let error = error as? ACMEError {
                state.lastError = error.message
                if error.kind == .rateLimited {
                    state.notBefore = error.retryAfter ?? clock.now.addingTimeInterval(15 * 60)
                }
                if error.kind == .unauthorized || error.kind == .connection || error.kind == .dns {
                    // That order is invalid now; the next run starts a fresh one.
                    state.orderURL = nil
                }
                try? store.saveOrder(state)
            }
            throw error
        }
    }

    private func saveAccountIfChanged(
        client: ACMEClient, store: AccountStore, previous: AccountStore.AccountRecord?,
        registration: AccountRegistration
    ) async throws {
        guard let url = await client.accountURL else { return }
        let record = AccountStore.AccountRecord(url: url, directory: client.directoryURL, contact: registration.contact)
        if record != previous { try store.saveAccount(record) }
    }

    private struct OrderResult {
        var chain: String
        var keyPEM: String
        var orderURL: String
    }

    private func runOrder(
        client: ACMEClient, state: inout OrderState, store: AccountStore, domains: [String], webroot: String,
        profile: String?, replaces: String?, progress: @escaping @Sendable (IssuanceProgress) -> Void
    ) async throws -> OrderResult {
        var orderURL: String
        var order: ACMEOrder
        var orderResponse: HTTPResponse? = nil
        if let saved = state.orderURL, let resumed = try await resumeOrder(client: client, url: saved) {
            orderURL = saved
            order = resumed.order
            orderResponse = resumed.response
            progress(.orderResumed(url: saved, status: order.status.rawValue))
        } else {
            (orderURL, order) = try await client.newOrder(identifiers: domains, replaces: replaces, profile: profile)
            state.orderURL = orderURL
            state.certificateKeyPEM = nil
            state.notBefore = nil
            try store.saveOrder(state)
            progress(.orderCreated(url: orderURL))
        }
        try Task.checkCancellation()

        if order.status == .pending {
            try await authorize(order: order, client: client, webroot: webroot, progress: progress)
            order = try await client.poll(orderURL, what: "the order to become ready") { (order: ACMEOrder) in
                order.status != .pending
            }
        }
        if order.status == .invalid { throw Self.orderInvalid(order, url: orderURL) }

        // The key is saved with the order before the CSR leaves, so a resumed order that the CA finalized
        // meanwhile still has the key its certificate was issued for.
        let certificateKey: P256.Signing.PrivateKey
        if let pem = state.certificateKeyPEM, let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) {
            certificateKey = key
        } else {
            guard order.status == .ready else {
                // processing/valid without a saved key: the certificate would be useless; start over.
                state.orderURL = nil
                try store.saveOrder(state)
                return try await runOrder(
                    client: client, state: &state, store: store, domains: domains, webroot: webroot, profile: profile,
                    replaces: replaces, progress: progress)
            }
            certificateKey = P256.Signing.PrivateKey()
            state.certificateKeyPEM = certificateKey.pemRepresentation + "\n"
            try store.saveOrder(state)
        }

        if order.status == .ready {
            progress(.finalizing(url: order.finalize))
            let csr = try CertificateTools.makeCSR(domains: domains, key: certificateKey)
            let finalized = try await client.finalize(order, csrDER: csr)
            order = finalized.order
            orderResponse = finalized.response
        }
        if order.status == .processing {
            let first = orderResponse.map { (value: order, response: $0) }
            order = try await client.poll(orderURL, what: "the certificate to be issued", first: first) {
                (order: ACMEOrder) in order.status != .processing
            }
        }
        guard order.status == .valid, let certificateURL = order.certificate else {
            throw Self.orderInvalid(order, url: orderURL)
        }
        progress(.downloading(url: certificateURL))
        let chain = try await client.downloadCertificate(certificateURL)
        return OrderResult(chain: chain, keyPEM: certificateKey.pemRepresentation + "\n", orderURL: orderURL)
    }

    /// The saved order, if the CA still has it and it can still lead to a certificate.
    private func resumeOrder(client: ACMEClient, url: String) async throws -> (
        order: ACMEOrder, response: HTTPResponse
    )? {
        do {
            let fetched = try await client.fetchOrder(url)
            return fetched.order.status == .invalid ? nil : fetched
        } catch let error as ACMEError
            where error.kind == .server || error.kind == .accountSetup
            || error.kind == .orderFailed || error.kind == .unauthorized
        {
            // Unknown order (404 malformed), another account's order (a re-registered account): start over.
            return nil
        }
    }

    private func authorize(
        order: ACMEOrder, client: ACMEClient, webroot: String,
        progress: @escaping @Sendable (IssuanceProgress) -> Void
    ) async throws {
        let accountJWK = client.accountJWK
        let challengeFolder = webroot + "/.well-known/acme-challenge"
        var written: [String] = []
        defer { for path in written { FileIO.remove(path) } }

        var pending: [(url: String, authorization: ACMEAuthorization)] = []
        for url in order.authorizations {
            let (authorization, _) = try await client.fetchAuthorization(url)
            switch authorization.status {
            case .valid:
                progress(.authorizationValid(domain: authorization.identifier.value))
            case .pending:
                pending.append((url, authorization))
            default:
                throw Self.authorizationFailed(authorization, url: url)
            }
        }
        guard !pending.isEmpty else { return }

        // All files first, then all challenges: the CA validates them in parallel.
        try FileIO.makeDirectories(challengeFolder, mode: 0o755)
        var triggered: [(url: String, domain: String, challenge: ACMEChallenge)] = []
        for (url, authorization) in pending {
            let domain = authorization.identifier.value
            guard let challenge = authorization.challenges.first(where: { $0.type == "http-01" }),
                let token = challenge.token
            else {
                throw ACMEError(
                    .orderFailed, "The CA offers no http-01 challenge for \(domain).",
                    remedy:
                        "Use a CA that allows HTTP-01 validation (wildcard names need DNS-01, which sbs does not do).")
            }
            guard !token.isEmpty, token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ACMEError(
                    .server, "The CA sent a challenge token that is not base64url: \(token)",
                    remedy: "Report this to the CA.")
            }
            let path = challengeFolder + "/" + token
            try FileIO.writeAtomically(keyAuthorization(token: token, accountKey: accountJWK), to: path, mode: 0o644)
            written.append(path)
            progress(.challengeWritten(domain: domain, path: path))
            triggered.append((url, domain, challenge))
        }
        for item in triggered where item.challenge.status == .pending {
            try await client.respond(to: item.challenge)
            progress(.challengeTriggered(domain: item.domain, url: item.challenge.url))
        }
        for item in triggered {
            var problemSince: Date?
            let clock = self.clock
            let grace = challengeProblemGrace
            let authorization = try await client.poll(item.url, what: "validation of \(item.domain)") {
                (authorization: ACMEAuthorization) in
                Self.validationSettled(authorization, problemSince: &problemSince, now: clock.now, grace: grace) {
                    detail in
                    progress(.validationProblem(domain: item.domain, detail: detail, grace: grace))
                }
            }
            guard authorization.status == .valid else { throw Self.authorizationFailed(authorization, url: item.url) }
            progress(.authorizationValid(domain: item.domain))
        }
    }

    /// Whether polling an authorization can stop: it left `pending`, or a challenge of it carries an error and
    /// has for `grace`. (step-ca keeps a failed authorization `pending` with the challenge's error set; without
    /// this, sbs polled to its limit and never showed the CA's words.) The first sight of an error is reported
    /// through `report` at once.
    static func validationSettled(
        _ authorization: ACMEAuthorization, problemSince: inout Date?, now: Date, grace: Duration,
        report: (String) -> Void
    ) -> Bool {
        if authorization.status != .pending { return true }
        guard let problem = authorization.challenges.first(where: { $0.error != nil })?.error else { return false }
        guard let since = problemSince else {
            problemSince = now
            report(problem.detail ?? problem.type ?? "a validation error")
            return grace <= .zero
        }
        return now.timeIntervalSince(since) >= grace.seconds
    }

    static func authorizationFailed(_ authorization: ACMEAuthorization, url: String) -> ACMEError {
        let domain = authorization.identifier.value
        let challenge =
            authorization.challenges.first { $0.error != nil }
            ?? authorization.challenges.first { $0.type == "http-01" }
        let fetched =
            challenge?.validationRecord?.first?.url
            ?? challenge?.token.map { "http://\(domain)/.well-known/acme-challenge/\($0)" }
        if let problem = challenge?.error {
            var problem = problem
            if problem.identifier == nil { problem.identifier = .init(value: domain) }
            return ACMEError.from(problem: problem, while: "validating \(domain)", url: fetched)
        }
        return ACMEError(
            .orderFailed, "The authorization for \(domain) is \(authorization.status.rawValue) (\(url)).",
            remedy: "Run the command again to start a new order.", url: fetched)
    }

    static func orderInvalid(_ order: ACMEOrder, url: String) -> ACMEError {
        if let problem = order.error { return ACMEError.from(problem: problem, while: "processing the order \(url)") }
        return ACMEError(
            .orderFailed, "The order \(url) ended \(order.status.rawValue).",
            remedy: "Run the command again to start a new order.")
    }

    // MARK: Self-check

    /// Writes a random token to the webroot and fetches it through `http://DOMAIN:PORT/.well-known/acme-challenge/`.
    /// - Throws: `ACMEError` (`.selfCheckFailed`) with the URL and what came back instead; `.local` when the
    ///   webroot is not writable.
    public func runSelfCheck(
        domain: String, webroot: String, check: SelfCheck,
        progress: @escaping @Sendable (IssuanceProgress) -> Void = { _ in }
    ) async throws {
        var random = [UInt8](repeating: 0, count: 24)
        for index in random.indices { random[index] = UInt8.random(in: 0...255) }
        let token = "sbs-self-check-" + Base64URL.encode(random)
        let content = "sbs self-check " + token
        let path = webroot + "/.well-known/acme-challenge/" + token
        try FileIO.makeDirectories(webroot + "/.well-known/acme-challenge", mode: 0o755)
        try FileIO.writeAtomically(content, to: path, mode: 0o644)
        defer { FileIO.remove(path) }

        let hostPart = check.port == 80 ? domain : "\(domain):\(check.port)"
        let url = "http://\(hostPart)/.well-known/acme-challenge/\(token)"
        let transport = makeTransport(
            HTTPOptions(
                resolve: check.resolveTo.map { ["\(domain):\(check.port):\($0)"] } ?? [],
                connectTimeout: check.timeout, timeout: check.timeout,
                proxy: check.resolveTo == nil ? proxy : .direct))
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: .get, url: url))
        } catch let error as HTTPTransportError {
            throw ACMEError(
                .selfCheckFailed, "Self-check: could not fetch \(url): \(error.detail)",
                remedy: error.kind == .dns
                    ? "Create the A/AAAA record of \(domain) pointing at this server."
                    : "Make sure the web server runs and port \(check.port) is open (firewall, port-forward).",
                url: url)
        }
        guard response.status == 200, response.bodyText.trimmed == content else {
            let got =
                response.status == 200
                ? "different content: \(response.bodyText.prefix(80))" : "HTTP \(response.status)"
            throw ACMEError(
                .selfCheckFailed, "Self-check: \(url) returned \(got) instead of the token sbs wrote to \(path).",
                remedy:
                    "Serve \(webroot) as the document root for /.well-known/acme-challenge/ on \(domain) (no redirect to another host, files readable by the web server's user).",
                url: url)
        }
        progress(.selfCheck(domain: domain, url: url))
    }

    // MARK: Installing

    /// Checks the downloaded chain against the order and writes the live files.
    private func install(
        chainPEM: String, keyPEM: String, domains: [String], liveDirectory: String, orderURL: String, accountURL: String
    ) throws -> IssuedCertificate {
        let certificates = try CertificateTools.parseChain(chainPEM, what: "The certificate the CA sent")
        let leaf = certificates[0]
        let key = try Certificate.PrivateKey(pemEncoded: keyPEM)
        guard CertificateTools.matches(key, leaf) else {
            throw ACMEError(
                .server, "The CA sent a certificate for another key.",
                remedy: "Run again; report it to the CA if it repeats.")
        }
        let names = Set(CertificateTools.dnsNames(of: leaf).map { $0.lowercased() })
        guard names == Set(domains) else {
            throw ACMEError(
                .server, "The CA sent a certificate for \(names.sorted()) instead of \(domains).",
                remedy: "Run again; report it to the CA if it repeats.")
        }
        try LiveFiles.write(
            leafPEM: pemBlocks(in: chainPEM)[0], chainPEMs: Array(pemBlocks(in: chainPEM).dropFirst()), keyPEM: keyPEM,
            to: liveDirectory)
        return IssuedCertificate(
            domains: domains, liveDirectory: liveDirectory, notBefore: leaf.notValidBefore,
            notAfter: leaf.notValidAfter, certID: try? CertificateTools.certID(of: leaf), orderURL: orderURL,
            accountURL: accountURL)
    }

    /// The webroot must be an existing folder.
    /// - Throws: `ACMEError` (`.local`) saying whether it is missing or is a file.
    static func checkWebroot(_ webroot: String) throws {
        if FileIO.isDirectory(webroot) { return }
        if FileIO.exists(webroot) {
            throw ACMEError.local(
                "The webroot \(webroot) is a file, not a folder.",
                remedy:
                    "Give the folder the web server serves for http://DOMAIN/ (challenge files go to DIR/.well-known/acme-challenge/)."
            )
        }
        throw ACMEError.local(
            "The webroot \(webroot) does not exist.",
            remedy: "Create it and make the web server serve it for http://DOMAIN/.well-known/acme-challenge/.")
    }

    /// The CA bundle must exist and hold at least one certificate that parses: otherwise every connection would
    /// fail with a TLS error that reads like an unreachable CA.
    /// - Throws: `ACMEError` (`.local`) naming the file and what is wrong with it.
    static func checkCABundle(_ path: String) throws {
        guard let bytes = try FileIO.read(path, limit: .caBundle) else {
            throw ACMEError.local("The CA bundle \(path) does not exist.", remedy: "Give the path of a PEM file.")
        }
        let text = String(decoding: bytes.prefix(4 << 20), as: UTF8.self)
        let blocks = pemBlocks(in: text)
        guard !blocks.isEmpty, blocks.allSatisfy({ (try? Certificate(pemEncoded: $0)) != nil }) else {
            throw ACMEError.local(
                "The CA bundle \(path) is not a PEM bundle (\(blocks.isEmpty ? "no -----BEGIN CERTIFICATE----- block" : "a certificate in it does not parse")).",
                remedy: "Give a PEM file of CA certificates, such as the CA's root certificate.")
        }
    }

    /// The account's contact must be an address `EmailAddress` accepts (as in the answers): the CA gets it as
    /// `mailto:` + the text, unescaped.
    /// - Throws: `ACMEError` (`.local`) with `EmailAddress`'s reason.
    static func checkEmail(_ email: String) throws {
        do { _ = try SBSCore.EmailAddress(email) } catch {
            throw ACMEError.local(error.message, remedy: error.remedy ?? "Use an address such as admin@example.com.")
        }
    }

    /// Lower-cased, trimmed, duplicates dropped, order kept.
    /// - Throws: `ACMEError` (`.local`) for an empty list, more than `CertificateNames.maximum` names, or a name
    ///   that is not a DNS name.
    static func normalize(_ domains: [String]) throws -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for raw in domains {
            var name = raw.trimmed.lowercased()
            if name.hasSuffix(".") { name.removeLast() }
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            guard !name.isEmpty, name.count <= 253, labels.count >= 1,
                labels.allSatisfy({ label in
                    !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                        && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
                })
            else {
                throw ACMEError.local(
                    "\"\(raw)\" is not a domain name sbs can get a certificate for.",
                    remedy: "Give a DNS name such as shop.example.com (no scheme, port, path or wildcard).")
            }
            // A DNS top-level label is never all digits: this is an IP address, which HTTP-01 through a webroot
            // cannot validate by name (and most CAs refuse).
            if let last = labels.last, last.allSatisfy(\.isNumber) {
                throw ACMEError.local(
                    "\"\(raw)\" is an IP address; sbs gets certificates for domain names.",
                    remedy: "Give the DNS name that points to this server, such as shop.example.com.")
            }
            if seen.insert(name).inserted { result.append(name) }
        }
        guard !result.isEmpty else {
            throw ACMEError.local("No domain given.", remedy: "Pass at least one --domain.")
        }
        guard result.count <= CertificateNames.maximum else {
            throw ACMEError.local(
                "\(result.count) names were given; at most \(CertificateNames.maximum) fit on one certificate.",
                remedy: "Split the names over several certificates.")
        }
        return result
    }
}
