import Crypto
import FoundationEssentials
import HTTPClient
import SBSCore

/// Replay nonces handed out by the CA. Every response carries one (errors included, RFC 8555 section 6.5),
/// so after the first exchange a request rarely needs a HEAD newNonce of its own.
public struct NoncePool: Sendable, Equatable {
    private(set) var nonces: [String] = []
    /// Enough to never run dry in one issuance, few enough that stale ones do not pile up.
    let capacity = 8

    public init() {}

    /// Keeps the `Replay-Nonce` of `response`, whatever its status.
    public mutating func collect(from response: HTTPResponse) {
        guard let nonce = response.header("Replay-Nonce")?.trimmed, !nonce.isEmpty else { return }
        nonces.append(nonce)
        if nonces.count > capacity { nonces.removeFirst(nonces.count - capacity) }
    }

    /// The freshest nonce, removed from the pool (a nonce is good for one request only).
    public mutating func take() -> String? { nonces.popLast() }

    public var count: Int { nonces.count }
}

/// What the client needs to (re-)register its account.
public struct AccountRegistration: Sendable, Equatable {
    public var contact: [String]
    public var externalAccountBinding: ExternalAccountBinding?

    public init(email: String?, externalAccountBinding: ExternalAccountBinding? = nil) {
        self.contact = email.map { ["mailto:" + $0] } ?? []
        self.externalAccountBinding = externalAccountBinding
    }
}

/// Key id and HMAC key a CA hands out for External Account Binding (RFC 8555 section 7.3.4).
public struct ExternalAccountBinding: Sendable, Equatable {
    public var keyID: String
    /// The MAC key, decoded (CAs hand it out base64url-encoded).
    public var macKey: [UInt8]

    public init(keyID: String, macKey: [UInt8]) {
        self.keyID = keyID
        self.macKey = macKey
    }

    /// - Throws: `ACMEError` (`.local`) when `base64urlKey` is not base64url.
    public init(keyID: String, base64urlKey: String) throws {
        guard let key = Base64URL.decode(base64urlKey), !key.isEmpty else {
            throw ACMEError.local(
                "The EAB HMAC key is not base64url.", remedy: "Copy the HMAC key exactly as the CA shows it.")
        }
        self.init(keyID: keyID, macKey: key)
    }
}

/// The RFC 8555 protocol: one account, one CA. Requests are signed with the account key; nonces are pooled;
/// `badNonce` is retried; an account the CA forgot is registered again and the request repeated.
public actor ACMEClient {
    public let directoryURL: String
    public let accountKey: P256.Signing.PrivateKey
    /// The account key's public JWK (for key authorizations), readable without hopping onto the actor.
    public nonisolated let accountJWK: ECPublicJWK
    public private(set) var accountURL: String?
    public private(set) var directory: ACMEDirectory?
    public private(set) var nonces = NoncePool()
    /// Counts of what was sent, for tests and benchmarks.
    public private(set) var requestCount = 0
    public private(set) var badNonceRetries = 0

    private let transport: any HTTPTransport
    private let clock: any ACMEClock
    private let registration: AccountRegistration
    private let progress: @Sendable (IssuanceProgress) -> Void
    /// badNonce retries per request. A CA rejecting 20 % of good nonces fails 10 in a row once in 10^7.
    let maxBadNonceRetries = 10
    /// Longest single wait while polling; a longer Retry-After ends the run with a resumable error instead.
    public var maxPollDelay: Duration = .seconds(60)
    /// How long one issuance may poll in total.
    public var pollTimeout: Duration = .seconds(180)

    public init(
        directoryURL: String, accountKey: P256.Signing.PrivateKey, accountURL: String?,
        registration: AccountRegistration, transport: any HTTPTransport, clock: any ACMEClock = SystemACMEClock(),
        progress: @escaping @Sendable (IssuanceProgress) -> Void = { _ in }
    ) {
        self.directoryURL = directoryURL
        self.accountKey = accountKey
        self.accountJWK = ECPublicJWK(accountKey.publicKey)
        self.accountURL = accountURL
        self.registration = registration
        self.transport = transport
        self.clock = clock
        self.progress = progress
    }

    public func setPolling(maxDelay: Duration, timeout: Duration) {
        maxPollDelay = maxDelay
        pollTimeout = timeout
    }

    // MARK: Directory and nonces

    /// The directory, fetched once.
    /// - Throws: `ACMEError` (`.transport` when unreachable, `.server` when the document is not a directory).
    @discardableResult
    public func loadDirectory() async throws -> ACMEDirectory {
        if let directory { return directory }
        let response = try await send(HTTPRequest(method: .get, url: directoryURL), while: "fetching the directory")
        guard response.status == 200,
            let decoded = try? JSONDecoder().decode(ACMEDirectory.self, from: Data(response.body))
        else {
            throw ACMEError(
                .server,
                "\(directoryURL) is not an ACME directory (HTTP \(response.status)): \(response.bodyText.prefix(200))",
                remedy: "Check the directory URL (for Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory).")
        }
        directory = decoded
        return decoded
    }

    private func nextNonce() async throws -> String {
        if let nonce = nonces.take() { return nonce }
        let directory = try await loadDirectory()
        let response = try await send(HTTPRequest(method: .head, url: directory.newNonce), while: "getting a nonce")
        guard let nonce = nonces.take() else {
            throw ACMEError(
                .server, "The CA gave no Replay-Nonce at \(directory.newNonce) (HTTP \(response.status)).",
                remedy: "Check that the directory URL points at an ACME server.")
        }
        return nonce
    }

    /// Sends `request`, keeping the response's nonce.
    private func send(_ request: HTTPRequest, while what: String) async throws -> HTTPResponse {
        requestCount += 1
        do {
            let response = try await transport.send(request)
            nonces.collect(from: response)
            return response
        } catch let error as HTTPTransportError {
            throw ACMEError.from(transport: error, while: what)
        }
    }

    // MARK: Signed requests

    /// A JWS-signed POST. `payload` nil is POST-as-GET.
    /// - Throws: `ACMEError` for a problem document (after retrying `badNonce`), or for no response.
    func post(
        _ url: String, payload: [UInt8]?, useJWK: Bool = false, accept: String? = nil, while what: String
    ) async throws -> HTTPResponse {
        var attempt = 0
        while true {
            let nonce = try await nextNonce()
            let keyID: String?
            if useJWK {
                keyID = nil
            } else {
                guard let accountURL else {
                    throw ACMEError(.accountSetup, "No ACME account yet while \(what).", remedy: "Report this to sbs.")
                }
                keyID = accountURL
            }
            let jws = try FlattenedJWS.sign(payload: payload, url: url, nonce: nonce, keyID: keyID, key: accountKey)
            var headers = [(name: "Content-Type", value: "application/jose+json")]
            if let accept { headers.append((name: "Accept", value: accept)) }
            let response = try await send(
                HTTPRequest(method: .post, url: url, headers: headers, body: jws.encoded()), while: what)
            if response.status < 400 { return response }
            let problem = Self.problem(in: response)
            if problem.acmeType == "badNonce", attempt < maxBadNonceRetries {
                // The error response carried a fresh nonce (collected above); a short growing pause keeps a
                // struggling CA from being hammered.
                attempt += 1
                badNonceRetries += 1
                try await clock.sleep(for: .milliseconds(min(1000, 25 << min(attempt - 1, 6))))
                continue
            }
            let retryAfter = response.header("Retry-After").flatMap { RetryAfter.delay($0, now: clock.now) }
                .map { clock.now.addingTimeInterval($0.seconds) }
            throw ACMEError.from(problem: problem, while: what, retryAfter: retryAfter)
        }
    }

    /// A POST signed with the account's `kid`; when the CA has forgotten the account (a restarted test CA, an
    /// account deactivated elsewhere), registers it again with the same key and repeats the request once.
    func postAsAccount(
        _ url: String, payload: [UInt8]?, accept: String? = nil, while what: String
    ) async throws -> HTTPResponse {
        if accountURL == nil { try await register() }
        do {
            return try await post(url, payload: payload, accept: accept, while: what)
        } catch let error as ACMEError where error.kind == .accountDoesNotExist {
            accountURL = nil
            try await register()
            if let accountURL { progress(.accountReRegistered(url: accountURL)) }
            return try await post(url, payload: payload, accept: accept, while: what)
        }
    }

    static func problem(in response: HTTPResponse) -> ProblemDocument {
        if let problem = try? JSONDecoder().decode(ProblemDocument.self, from: Data(response.body)),
            problem.type != nil || problem.detail != nil
        {
            return problem
        }
        return ProblemDocument(
            type: nil, detail: "HTTP \(response.status): \(response.bodyText.prefix(300))", status: response.status)
    }

    // MARK: Account

    /// Registers the account (or finds the existing one for this key: newAccount answers 200 with its URL).
    /// - Throws: `ACMEError` (`.accountSetup` for terms, contact or EAB problems).
    @discardableResult
    public func register() async throws -> String {
        let directory = try await loadDirectory()
        var payload: [String: JSONValue] = ["termsOfServiceAgreed": .bool(true)]
        if !registration.contact.isEmpty { payload["contact"] = .array(registration.contact.map { .string($0) }) }
        if let eab = registration.externalAccountBinding {
            let binding = FlattenedJWS.externalAccountBinding(
                accountKey: accountKey.publicKey, keyID: eab.keyID, macKey: eab.macKey, url: directory.newAccount)
            payload["externalAccountBinding"] = .object([
                "protected": .string(binding.protected), "payload": .string(binding.payload),
                "signature": .string(binding.signature),
            ])
        } else if directory.meta?.externalAccountRequired == true {
            throw ACMEError(
                .accountSetup, "The CA at \(directoryURL) requires External Account Binding.",
                remedy:
                    "Get an EAB key id and HMAC key from the CA and pass them to sbs (`--eab-kid`, `--eab-hmac-key`).")
        }
        let response: HTTPResponse
        do {
            response = try await post(
                directory.newAccount, payload: try JSONEncoder.acme.encode(payload).bytes, useJWK: true,
                while: "registering the account")
        } catch let error as ACMEError {
            throw Self.registrationError(error, binding: registration.externalAccountBinding)
        }
        guard let location = response.header("Location") else {
            throw ACMEError(
                .server, "The CA created an account but sent no Location header.", remedy: "Report this to the CA.")
        }
        accountURL = location
        return location
    }

    /// What a refused registration means. `unauthorized` there is about the account, not a domain: with a
    /// binding, it (and `externalAccountRequired`, or a detail about the binding) means the CA did not accept the
    /// EAB key id and HMAC key, which the error names (the key id; never the key).
    static func registrationError(_ error: ACMEError, binding: ExternalAccountBinding?) -> ACMEError {
        guard let problem = error.problem else { return error }
        let type = problem.acmeType ?? ""
        let detail = (problem.detail ?? "").lowercased()
        let aboutBinding =
            type == "unauthorized" || type == "externalAccountRequired"
            || detail.contains("external account")
        if let binding, aboutBinding {
            return ACMEError(
                .accountSetup,
                "The CA did not accept the External Account Binding with key id \"\(binding.keyID.debugSafe)\" while registering the account: \(problem.summary)",
                remedy:
                    "Check the EAB credentials: the key id and HMAC key exactly as this CA issued them (--eab-kid and --eab-hmac-key; in the answers tls.eab.kid and tls.eab.hmac_key), for this CA's directory, and not revoked or already used.",
                problem: problem)
        }
        if type == "unauthorized" {
            return ACMEError(
                .accountSetup, "The CA refused to register the account: \(problem.summary)",
                remedy:
                    "Read the CA's detail above; if the CA requires External Account Binding, pass --eab-kid and --eab-hmac-key.",
                problem: problem)
        }
        return error
    }

    /// Updates the account's contact addresses.
    /// - Throws: `ACMEError`.
    public func updateContact() async throws {
        guard let accountURL else { return }
        let payload: [String: JSONValue] = ["contact": .array(registration.contact.map { .string($0) })]
        _ = try await postAsAccount(
            accountURL, payload: try JSONEncoder.acme.encode(payload).bytes, while: "updating the account's contact")
    }

    // MARK: Orders

    /// Creates an order for `identifiers` (in that order).
    /// - Parameters:
    ///   - replaces: the ARI certID of the certificate this one renews (sent only if the CA offers ARI).
    ///   - profile: a profile name; checked against the directory's `meta.profiles` first.
    /// - Throws: `ACMEError` (`.local` for a profile the CA does not list).
    public func newOrder(
        identifiers: [String], replaces: String? = nil, profile: String? = nil
    ) async throws -> (url: String, order: ACMEOrder) {
        let directory = try await loadDirectory()
        var payload: [String: JSONValue] = [
            "identifiers": .array(identifiers.map { .object(["type": .string("dns"), "value": .string($0)]) })
        ]
        if let profile {
            try Self.checkProfile(profile, in: directory)
            payload["profile"] = .string(profile)
        }
        if let replaces, directory.renewalInfo != nil { payload["replaces"] = .string(replaces) }
        let response = try await postAsAccount(
            directory.newOrder, payload: try JSONEncoder.acme.encode(payload).bytes, while: "creating the order")
        guard let location = response.header("Location") else {
            throw ACMEError(
                .server, "The CA created an order but sent no Location header.", remedy: "Report this to the CA.")
        }
        return (location, try decode(ACMEOrder.self, from: response, what: "the new order"))
    }

    /// - Throws: `ACMEError` (`.local`) when the CA lists no profiles or not this one.
    public static func checkProfile(_ profile: String, in directory: ACMEDirectory) throws {
        guard let profiles = directory.meta?.profiles, !profiles.isEmpty else {
            throw ACMEError.local(
                "The CA does not offer certificate profiles, so profile \"\(profile)\" cannot be requested.",
                remedy: "Leave the profile unset for this CA.")
        }
        guard profiles[profile] != nil else {
            throw ACMEError.local(
                "The CA does not offer the profile \"\(profile)\"; it offers: \(profiles.keys.sorted().joined(separator: ", ")).",
                remedy: "Pick one of the listed profiles.")
        }
    }

    public func fetchOrder(_ url: String) async throws -> (order: ACMEOrder, response: HTTPResponse) {
        let response = try await postAsAccount(url, payload: nil, while: "fetching the order")
        return (try decode(ACMEOrder.self, from: response, what: "the order"), response)
    }

    public func fetchAuthorization(_ url: String) async throws -> (
        authorization: ACMEAuthorization, response: HTTPResponse
    ) {
        let response = try await postAsAccount(url, payload: nil, while: "fetching an authorization")
        return (try decode(ACMEAuthorization.self, from: response, what: "an authorization"), response)
    }

    /// Tells the CA the challenge is ready (an empty JSON object, RFC 8555 section 7.5.1).
    public func respond(to challenge: ACMEChallenge) async throws {
        _ = try await postAsAccount(challenge.url, payload: Array("{}".utf8), while: "answering the challenge")
    }

    public func finalize(_ order: ACMEOrder, csrDER: [UInt8]) async throws -> (order: ACMEOrder, response: HTTPResponse)
    {
        let payload = #"{"csr":"\#(Base64URL.encode(csrDER))"}"#
        let response = try await postAsAccount(
            order.finalize, payload: Array(payload.utf8), while: "finalizing the order")
        return (try decode(ACMEOrder.self, from: response, what: "the finalized order"), response)
    }

    /// The PEM chain at `url`, leaf first.
    public func downloadCertificate(_ url: String) async throws -> String {
        let response = try await postAsAccount(
            url, payload: nil, accept: "application/pem-certificate-chain", while: "downloading the certificate")
        return response.bodyText
    }

    /// ARI renewal information for `certID` (an unauthenticated GET, RFC 9773 section 4.1).
    /// - Returns: the info and the response's Retry-After, or nil when the CA offers no ARI.
    /// - Throws: `ACMEError` for transport errors and non-200 answers.
    public func renewalInfo(certID: String) async throws -> (info: RenewalInfo, retryAfter: Duration?)? {
        let directory = try await loadDirectory()
        guard var base = directory.renewalInfo else { return nil }
        while base.hasSuffix("/") { base.removeLast() }
        let response = try await send(
            HTTPRequest(method: .get, url: base + "/" + certID), while: "fetching renewal information")
        guard response.status == 200 else {
            throw ACMEError.from(problem: Self.problem(in: response), while: "fetching renewal information")
        }
        let info = try decode(RenewalInfo.self, from: response, what: "renewal information")
        return (info, response.header("Retry-After").flatMap { RetryAfter.delay($0, now: clock.now) })
    }

    // MARK: Polling

    /// Re-fetches with POST-as-GET until `done` says so, honouring Retry-After (seconds or HTTP-date) and
    /// otherwise backing off from 50 ms to 2 s: Pebble and Boulder finish most steps within a second, and
    /// early polls make the common case fast without hammering a slow CA.
    /// - Throws: `ACMEError` (`.orderFailed`) when the poll timeout passes or a Retry-After exceeds it.
    func poll<T: Decodable & Sendable>(
        _ url: String, what: String, first: (value: T, response: HTTPResponse)? = nil, done: (T) -> Bool
    ) async throws -> T {
        let deadline = clock.now.addingTimeInterval(pollTimeout.seconds)
        var attempt = 0
        var current = first
        while true {
            if let current, done(current.value) { return current.value }
            if let current {
                let suggested = current.response.header("Retry-After").flatMap { RetryAfter.delay($0, now: clock.now) }
                let fallback = Duration.milliseconds(min(2000, 50 << min(attempt, 6)))
                let delay = suggested ?? fallback
                let remaining = deadline.timeIntervalSince(clock.now)
                if delay > maxPollDelay || delay.seconds > remaining {
                    // Whose delay it is: the CA's (Retry-After), or sbs's own polling limit.
                    guard let suggested else {
                        throw ACMEError(
                            .orderFailed,
                            "The CA has not finished \(what) after \(attempt + 1) polls in \(pollTimeout.formattedSeconds) (sbs's polling limit; the CA sent no Retry-After).",
                            remedy: "Run the same command again later; sbs resumes the order.", url: url)
                    }
                    let resumeAt = clock.now.addingTimeInterval(suggested.seconds)
                    let limit =
                        suggested > maxPollDelay
                        ? "longer than the \(maxPollDelay.formattedSeconds) sbs waits at once"
                        : "past sbs's polling limit of \(pollTimeout.formattedSeconds)"
                    throw ACMEError(
                        .orderFailed,
                        "The CA has not finished \(what): its Retry-After asks to wait \(suggested.formattedSeconds), \(limit).",
                        remedy: "Run the same command again after \(RFC3339.format(resumeAt)); sbs resumes the order.",
                        retryAfter: resumeAt, url: url)
                }
                attempt += 1
                if delay > .zero {
                    if delay >= .seconds(1) { progress(.waiting(what: what, delay: delay)) }
                    try await clock.sleep(for: delay)
                }
            }
            try Task.checkCancellation()
            let response = try await postAsAccount(url, payload: nil, while: what)
            current = (try decode(T.self, from: response, what: what), response)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from response: HTTPResponse, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw ACMEError(
                .server, "The CA sent \(what) in a form sbs cannot read: \(response.bodyText.prefix(300))",
                remedy: "Check the directory URL points at an RFC 8555 server; report this to sbs otherwise.")
        }
    }
}

extension Data {
    var bytes: [UInt8] { Array(self) }
}
