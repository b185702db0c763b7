import FoundationEssentials
import HTTPClient

/// An RFC 7807 problem document as ACME servers send it (RFC 8555 section 6.7).
public struct ProblemDocument: Codable, Sendable, Equatable {
    public struct Identifier: Codable, Sendable, Equatable, Hashable {
        public var type: String
        public var value: String
        public init(type: String = "dns", value: String) {
            self.type = type
            self.value = value
        }
    }

    public var type: String?
    public var detail: String?
    public var status: Int?
    public var instance: String?
    public var identifier: Identifier?
    public var subproblems: [ProblemDocument]?

    public init(
        type: String?, detail: String? = nil, status: Int? = nil, instance: String? = nil,
        identifier: Identifier? = nil, subproblems: [ProblemDocument]? = nil
    ) {
        self.type = type
        self.detail = detail
        self.status = status
        self.instance = instance
        self.identifier = identifier
        self.subproblems = subproblems
    }

    /// The ACME error name: `badNonce` for `urn:ietf:params:acme:error:badNonce`, else the whole type.
    public var acmeType: String? {
        guard let type else { return nil }
        let prefix = "urn:ietf:params:acme:error:"
        return type.hasPrefix(prefix) ? String(type.dropFirst(prefix.count)) : type
    }

    /// One line per problem: the identifier it concerns, its type and detail; subproblems indented below.
    public var summary: String {
        var line = ""
        if let identifier { line += "\(identifier.value): " }
        line += detail ?? acmeType ?? "unknown problem"
        if let acmeType, detail != nil { line += " (\(acmeType))" }
        for sub in subproblems ?? [] { line += "\n    - " + sub.summary }
        return line
    }
}

/// Everything the ACME client throws: what failed, in words a person can act on, and what to do next.
public struct ACMEError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// The CA limits how often this can be asked; `retryAfter` says when to try again.
        case rateLimited
        /// The CA could not validate control of a name (it fetched the challenge and got something else).
        case unauthorized
        /// The CA could not connect to the server for a name.
        case connection
        /// The CA could not resolve a name.
        case dns
        /// The CA refused the name (policy, CAA, unsupported identifier).
        case rejectedIdentifier
        /// The account is unknown to the CA (a test CA restarted, say).
        case accountDoesNotExist
        /// Terms of service must be agreed to, or an External Account Binding is required.
        case accountSetup
        /// The CA could not be reached, or answered with something that is not ACME.
        case transport
        /// The CA rejected a request for another reason (its `detail` says which).
        case server
        /// An order or authorization ended `invalid`, or did not complete in time.
        case orderFailed
        /// Local input or files: the domains, the webroot, a key or certificate file.
        case local
        /// The HTTP-01 self-check did not get the token back.
        case selfCheckFailed
    }

    public var kind: Kind
    public var message: String
    public var remedy: String
    public var problem: ProblemDocument?
    /// For `rateLimited` (and `server` when the CA said so): when a retry may succeed.
    public var retryAfter: Date?
    /// For challenge failures: the URL the CA fetched.
    public var url: String?

    public init(
        _ kind: Kind, _ message: String, remedy: String, problem: ProblemDocument? = nil, retryAfter: Date? = nil,
        url: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.remedy = remedy
        self.problem = problem
        self.retryAfter = retryAfter
        self.url = url
    }

    public var description: String { "\(message)\n  → \(remedy)" }

    /// The error a problem document from the CA means.
    /// - Parameters:
    ///   - request: what was being asked ("creating the order"), for the message.
    ///   - retryAfter: the response's Retry-After, resolved to a date.
    public static func from(
        problem: ProblemDocument, while request: String, retryAfter: Date? = nil, url: String? = nil
    ) -> ACMEError {
        let summary = problem.summary
        switch problem.acmeType {
        case "rateLimited":
            let when = retryAfter.map { " until \(RFC3339.format($0))" } ?? ""
            return ACMEError(
                .rateLimited, "The CA is rate-limiting this request (\(request)): \(summary)",
                remedy: retryAfter == nil
                    ? "Wait before trying again (Let's Encrypt's limits reset within hours to a week); use the staging directory for tests."
                    : "Do not retry\(when); sbs refuses to ask before then. Use the staging directory for tests.",
                problem: problem, retryAfter: retryAfter)
        case "unauthorized", "incorrectResponse":
            return ACMEError(
                .unauthorized,
                "The CA could not verify control of the domain\(url.map { " when it fetched \($0)" } ?? ""): \(summary)",
                remedy:
                    "Make sure http://DOMAIN/.well-known/acme-challenge/ is served from the webroot by this server (no redirect to another host, no other server answering), then retry; `--self-check` tests it.",
                problem: problem, url: url)
        case "connection", "tls":
            return ACMEError(
                .connection,
                "The CA could not connect to this server\(url.map { " at \($0)" } ?? ""): \(summary)",
                remedy:
                    "Open port 80 to the internet (firewall, cloud security group, router port-forward) and make sure the domain's A/AAAA records point at this server.",
                problem: problem, url: url)
        case "dns":
            return ACMEError(
                .dns, "The CA could not resolve the domain\(url.map { " for \($0)" } ?? ""): \(summary)",
                remedy:
                    "Create the domain's A (and AAAA, if IPv6 is served) record pointing at this server and wait for it to propagate.",
                problem: problem, url: url)
        case "caa":
            return ACMEError(
                .rejectedIdentifier, "A CAA record forbids this CA to issue for the domain: \(summary)",
                remedy:
                    "Add a CAA record allowing this CA (for Let's Encrypt: `0 issue \"letsencrypt.org\"`) or remove the restrictive one.",
                problem: problem)
        case "rejectedIdentifier", "unsupportedIdentifier":
            return ACMEError(
                .rejectedIdentifier, "The CA will not issue for this name: \(summary)",
                remedy: "Use a public domain name you control (not an IP address, not a reserved or internal name).",
                problem: problem)
        case "accountDoesNotExist":
            return ACMEError(
                .accountDoesNotExist, "The CA does not know the stored ACME account: \(summary)",
                remedy:
                    "sbs registers the account again on its own; if this persists, delete the account folder and retry.",
                problem: problem)
        case "externalAccountRequired":
            return ACMEError(
                .accountSetup, "The CA requires External Account Binding: \(summary)",
                remedy:
                    "Get an EAB key id and HMAC key from the CA and pass them to sbs (`--eab-kid`, `--eab-hmac-key`).",
                problem: problem)
        case "userActionRequired":
            return ACMEError(
                .accountSetup, "The CA asks for an action on the account: \(summary)",
                remedy: "Open \(problem.instance ?? "the CA's terms of service page"), do what it asks, then retry.",
                problem: problem)
        case "invalidContact", "unsupportedContact":
            return ACMEError(
                .accountSetup, "The CA rejected the contact e-mail address: \(summary)",
                remedy: "Give a real, deliverable e-mail address (not example.com, not localhost).", problem: problem)
        case "badCSR":
            return ACMEError(
                .server, "The CA rejected the certificate request (\(request)): \(summary)",
                remedy: "Check the domains (at most 100, each a valid DNS name); report this to sbs if they are fine.",
                problem: problem)
        case "orderNotReady":
            return ACMEError(
                .orderFailed, "The order was not ready when \(request): \(summary)",
                remedy: "Run the command again; sbs resumes the order.", problem: problem)
        case "invalidProfile":
            return ACMEError(
                .server, "The CA does not offer the requested certificate profile: \(summary)",
                remedy: "Pick one of the profiles the CA's directory lists, or none.", problem: problem)
        case "serverInternal":
            return ACMEError(
                .server, "The CA had an internal error while \(request): \(summary)",
                remedy: "Retry in a few minutes; check the CA's status page if it persists.", problem: problem,
                retryAfter: retryAfter)
        case "compound":
            return ACMEError(
                .server, "The CA reported several problems while \(request): \(summary)",
                remedy: "Fix each listed problem, then retry.", problem: problem)
        default:
            return ACMEError(
                .server, "The CA rejected the request while \(request): \(summary)",
                remedy:
                    "Read the CA's detail above; retry once it is fixed. If it looks like a client error, report it to sbs.",
                problem: problem, retryAfter: retryAfter)
        }
    }

    /// The error for a request that got no HTTP response.
    static func from(transport error: HTTPTransportError, while request: String) -> ACMEError {
        let remedy: String
        switch error.kind {
        case .dns: remedy = "Check the directory URL and this server's DNS resolver."
        case .connect: remedy = "Check that the CA is up and that this server may connect out to it (proxy, firewall)."
        case .tls: remedy = "If the CA uses a private CA certificate, pass it with --ca-bundle FILE."
        case .timeout:
            remedy = "The CA did not answer in time; retry later. A stopped order is resumed on the next run."
        case .other: remedy = "Retry later; a stopped order is resumed on the next run."
        case .tooLarge:
            return ACMEError(
                .transport, "The server at \(error.url) sent too much while \(request): \(error.detail).",
                remedy: "Check the directory URL: that server does not answer like an ACME CA.")
        }
        return ACMEError(
            .transport, "Could not reach the CA at \(error.url) while \(request): \(error.detail)", remedy: remedy)
    }

    static func local(_ message: String, remedy: String) -> ACMEError { ACMEError(.local, message, remedy: remedy) }
}
