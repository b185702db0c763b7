import FoundationEssentials
import SBSCore

/// The directory object (RFC 8555 section 7.1.1), with ARI's `renewalInfo` (RFC 9773) and `meta.profiles`.
public struct ACMEDirectory: Codable, Sendable, Equatable {
    public struct Meta: Codable, Sendable, Equatable {
        public var termsOfService: String?
        public var website: String?
        public var externalAccountRequired: Bool?
        /// Profile name → description (draft-aaron-acme-profiles).
        public var profiles: [String: String]?
    }

    public var newNonce: String
    public var newAccount: String
    public var newOrder: String
    public var revokeCert: String?
    public var keyChange: String?
    public var renewalInfo: String?
    public var meta: Meta?
}

public struct ACMEIdentifier: Codable, Sendable, Equatable, Hashable {
    public var type: String
    public var value: String
    public init(dns value: String) {
        self.type = "dns"
        self.value = value
    }
}

/// An order (RFC 8555 section 7.1.3).
public struct ACMEOrder: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case pending, ready, processing, valid, invalid }
    public var status: Status
    public var expires: String?
    public var identifiers: [ACMEIdentifier]
    public var authorizations: [String]
    public var finalize: String
    public var certificate: String?
    public var error: ProblemDocument?
    public var profile: String?
    public var replaces: String?
}

/// An authorization (RFC 8555 section 7.1.4).
public struct ACMEAuthorization: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case pending, valid, invalid, deactivated, expired, revoked }
    public var identifier: ACMEIdentifier
    public var status: Status
    public var expires: String?
    public var challenges: [ACMEChallenge]
    public var wildcard: Bool?
}

/// A challenge (RFC 8555 section 8), with what the CA recorded when it validated.
public struct ACMEChallenge: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case pending, processing, valid, invalid }
    public struct ValidationRecord: Codable, Sendable, Equatable {
        public var url: String?
        public var hostname: String?
        public var port: String?
        public var addressesResolved: [String]?
        public var addressUsed: String?
    }
    public var type: String
    public var url: String
    public var status: Status
    public var token: String?
    public var validated: String?
    public var error: ProblemDocument?
    public var validationRecord: [ValidationRecord]?
}

/// The account object, as much of it as the client reads.
public struct ACMEAccount: Codable, Sendable, Equatable {
    public var status: String?
    public var contact: [String]?
}

/// An ARI renewal-information response (RFC 9773 section 4.2).
public struct RenewalInfo: Codable, Sendable, Equatable {
    public struct Window: Codable, Sendable, Equatable {
        public var start: String
        public var end: String
    }
    public var suggestedWindow: Window
    public var explanationURL: String?
}

/// Progress of an issuance, reported as it happens (the CLI prints one line per event on stderr).
public enum IssuanceProgress: Sendable, Equatable, CustomStringConvertible {
    case selfCheck(domain: String, url: String)
    case directory(url: String)
    case accountReused(url: String)
    case accountCreated(url: String)
    case accountReRegistered(url: String)
    case orderResumed(url: String, status: String)
    case orderCreated(url: String)
    case authorizationValid(domain: String)
    case challengeWritten(domain: String, path: String)
    case challengeTriggered(domain: String, url: String)
    case waiting(what: String, delay: Duration)
    case finalizing(url: String)
    case downloading(url: String)
    case installed(directory: String, notAfter: Date)
    /// A challenge of a still pending authorization carries the CA's error (step-ca's way to fail a validation).
    case validationProblem(domain: String, detail: String, grace: Duration)
    /// Another run holds the ACME store's lock; this one waits for it.
    case waitingForLock(reason: String)

    public var description: String {
        switch self {
        case .selfCheck(let domain, let url): return "self-check for \(domain): fetched \(url)"
        case .directory(let url): return "directory \(url)"
        case .accountReused(let url): return "account \(url) (reused)"
        case .accountCreated(let url): return "account \(url) (created)"
        case .accountReRegistered(let url): return "account \(url) (registered again: the CA had forgotten the old one)"
        case .orderResumed(let url, let status): return "order \(url) resumed (\(status))"
        case .orderCreated(let url): return "order \(url) created"
        case .authorizationValid(let domain): return "authorization for \(domain) valid"
        case .challengeWritten(let domain, let path): return "http-01 for \(domain): wrote \(path)"
        case .challengeTriggered(let domain, let url): return "http-01 for \(domain): asked the CA to validate (\(url))"
        case .waiting(let what, let delay): return "waiting \(delay.formattedSeconds) for \(what)"
        case .finalizing(let url): return "finalizing \(url)"
        case .downloading(let url): return "downloading certificate \(url)"
        case .installed(let directory, let notAfter):
            return "certificate installed in \(directory) (valid until \(RFC3339.format(notAfter)))"
        case .waitingForLock(let reason): return reason
        case .validationProblem(let domain, let detail, let grace):
            return
                "http-01 for \(domain): the CA reports \"\(detail)\"; giving it \(grace.formattedSeconds) to validate after all"
        }
    }
}

extension Duration {
    var formattedSeconds: String {
        let tenths = (seconds * 10).rounded() / 10
        return "\(tenths)s"
    }
}
