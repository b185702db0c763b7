import Processes
import SBSCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The A and AAAA records of a name.
public struct DNSAnswer: Sendable, Equatable, Codable {
    public var a: [IPAddress]
    public var aaaa: [IPAddress]

    public init(a: [IPAddress] = [], aaaa: [IPAddress] = []) {
        self.a = a.sorted()
        self.aaaa = aaaa.sorted()
    }
}

/// Looks up names. Tests use a table; the real one asks the system resolver.
public protocol DomainResolver: Sendable {
    /// The name's addresses; an empty answer when the name does not exist or has no A/AAAA records.
    /// - Throws: `UserError` when the lookup itself fails (no resolver reachable, a temporary DNS failure).
    func resolve(_ name: DomainName) async throws(UserError) -> DNSAnswer
}

/// This machine's own addresses.
public protocol LocalAddressSource: Sendable {
    /// Addresses of the network interfaces that are up.
    /// - Throws: `UserError` when they cannot be listed (`getifaddrs` failed).
    func localAddresses() throws(UserError) -> [IPAddress]
}

/// `getaddrinfo` with AF_UNSPEC (as the system resolves names: /etc/hosts, then DNS).
public struct SystemDomainResolver: DomainResolver {
    public init() {}

    /// getaddrinfo blocks (for as long as the resolver takes): it runs on a thread of its own, and an interrupted
    /// run does not wait for it.
    public func resolve(_ name: DomainName) async throws(UserError) -> DNSAnswer {
        let outcome: Result<DNSAnswer, UserError>
        do {
            outcome = try await onOwnThreadUnlessCancelled { Result { () throws(UserError) in try Self.lookUp(name) } }
        } catch {
            throw UserError("Looking up \(name) was interrupted.", remedy: "Run the same command again.")
        }
        return try outcome.get()
    }

    static func lookUp(_ name: DomainName) throws(UserError) -> DNSAnswer {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name.value, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        // EAI_NODATA (-5, glibc): the name exists but has no address records.
        if status == EAI_NONAME || status == -5 { return DNSAnswer() }
        guard status == 0 else {
            throw UserError(
                "Looking up \(name) failed: \(String(decoding: Array(UnsafeBufferPointer(start: gai_strerror(status), count: strlen(gai_strerror(status)))).map { UInt8(bitPattern: $0) }, as: UTF8.self)).",
                remedy: "Check the server's DNS settings (/etc/resolv.conf) and network.")
        }
        var v4: Set<IPAddress> = []
        var v6: Set<IPAddress> = []
        var cursor = list
        while let entry = cursor?.pointee {
            if let address = entry.ai_addr {
                if entry.ai_family == AF_INET {
                    let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                    }
                    if let ip = IPAddress(bytes: bytes) { v4.insert(ip) }
                } else if entry.ai_family == AF_INET6 {
                    let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                    }
                    if let ip = IPAddress(bytes: bytes) { v6.insert(ip) }
                }
            }
            cursor = entry.ai_next
        }
        return DNSAnswer(a: Array(v4), aaaa: Array(v6))
    }
}

/// `getifaddrs`: the addresses of interfaces that are up.
public struct SystemLocalAddresses: LocalAddressSource {
    public init() {}

    public func localAddresses() throws(UserError) -> [IPAddress] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else {
            throw UserError("Could not list this server's network addresses (getifaddrs failed).")
        }
        defer { freeifaddrs(list) }
        var result: Set<IPAddress> = []
        var cursor = list
        while let entry = cursor?.pointee {
            defer { cursor = entry.ifa_next }
            guard let address = entry.ifa_addr, (entry.ifa_flags & UInt32(IFF_UP)) != 0 else { continue }
            if Int32(address.pointee.sa_family) == AF_INET {
                let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) }
                }
                if let ip = IPAddress(bytes: bytes) { result.insert(ip) }
            } else if Int32(address.pointee.sa_family) == AF_INET6 {
                let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) }
                }
                if let ip = IPAddress(bytes: bytes) { result.insert(ip) }
            }
        }
        return result.sorted()
    }
}

/// `checks.dns` in the answers.
public enum DNSPolicy: String, Codable, Sendable, CaseIterable {
    /// A mismatch fails the check (and the install, before any ACME request).
    case strict
    /// A mismatch is reported as a warning (private CAs, test setups).
    case warn
    /// No lookup at all.
    case skip
}

/// What one name resolved to and what is wrong with it.
public struct DNSNameReport: Codable, Sendable, Equatable {
    public var name: String
    public var answer: DNSAnswer
    /// Empty when the name points at this host.
    public var problems: [String]
}

public struct DNSReport: Codable, Sendable, Equatable {
    public var result: CheckResult
    public var names: [DNSNameReport]
}

/// The `check-dns` step: do the domain's A and AAAA records point at this host, as Let's Encrypt will see them?
public struct DNSCheck: Sendable {
    public let resolver: any DomainResolver
    public let localAddresses: any LocalAddressSource

    public init(
        resolver: any DomainResolver = SystemDomainResolver(),
        localAddresses: any LocalAddressSource = SystemLocalAddresses()
    ) {
        self.resolver = resolver
        self.localAddresses = localAddresses
    }

    /// Checks every name (the domain and its aliases).
    /// - Parameter publicAddresses: addresses the host is reached at but does not carry itself
    ///   (`network.public_ip` behind NAT).
    /// - Returns: pass when all names point here; otherwise fail under `strict`, warn under `warn`; skip under `skip`.
    public func check(names: [DomainName], publicAddresses: [IPAddress] = [], policy: DNSPolicy) async -> DNSReport {
        guard policy != .skip else {
            return DNSReport(
                result: CheckResult(id: "dns", status: .skip, detail: "DNS check skipped (checks.dns: skip)."),
                names: [])
        }
        let own: Set<IPAddress>
        do {
            own = Set(
                try localAddresses.localAddresses().filter { !$0.isLoopback && !$0.isLinkLocal } + publicAddresses)
        } catch {
            return DNSReport(
                result: CheckResult(
                    id: "dns", status: policy == .strict ? .fail : .warn,
                    detail: error.message, remedy: error.remedy), names: [])
        }
        let hasOwnV6 = own.contains { $0.family == .v6 && !$0.isPrivate }
        var reports: [DNSNameReport] = []
        for name in names {
            let answer: DNSAnswer
            do {
                answer = try await resolver.resolve(name)
            } catch {
                reports.append(DNSNameReport(name: name.value, answer: DNSAnswer(), problems: [error.message]))
                continue
            }
            reports.append(
                DNSNameReport(
                    name: name.value, answer: answer,
                    problems: Self.problems(name: name, answer: answer, own: own, hasOwnV6: hasOwnV6)))
        }
        let bad = reports.filter { !$0.problems.isEmpty }
        let ownList = own.sorted().map(\.description).joined(separator: ", ")
        if bad.isEmpty {
            let summary = reports.map {
                "\($0.name) → \(($0.answer.a + $0.answer.aaaa).map(\.description).joined(separator: ", "))"
            }
            return DNSReport(
                result: CheckResult(
                    id: "dns", status: .pass, detail: "DNS points at this server: \(summary.joined(separator: "; ")).",
                    remedy: nil), names: reports)
        }
        let detail =
            bad.map { "\($0.name): \($0.problems.joined(separator: " "))" }.joined(separator: " ")
            + " This server's addresses: \(ownList.isEmpty ? "none found" : ownList)."
        var remedy =
            "Point the A record\(hasOwnV6 ? " and AAAA record" : "") of each name at this server (and remove AAAA records that point elsewhere), and wait for DNS to update."
        if own.allSatisfy({ $0.isPrivate }) {
            remedy += " Behind NAT, give the public address as network.public_ip in the answers."
        }
        if policy == .strict {
            remedy += " For a private CA or a test setup, set checks.dns: warn."
        }
        return DNSReport(
            result: CheckResult(id: "dns", status: policy == .strict ? .fail : .warn, detail: detail, remedy: remedy),
            names: reports)
    }

    static func problems(name: DomainName, answer: DNSAnswer, own: Set<IPAddress>, hasOwnV6: Bool) -> [String] {
        var problems: [String] = []
        if answer.a.isEmpty && answer.aaaa.isEmpty {
            return ["has no A or AAAA record, so Let's Encrypt cannot reach this server by that name."]
        }
        let foreignV4 = answer.a.filter { !own.contains($0) }
        let foreignV6 = answer.aaaa.filter { !own.contains($0) }
        for address in answer.a + answer.aaaa where address.isLoopback {
            problems.append("resolves to the loopback address \(address), which no CA can reach.")
        }
        if !foreignV6.isEmpty, !foreignV6.allSatisfy(\.isLoopback) {
            let list = foreignV6.filter { !$0.isLoopback }.map(\.description).joined(separator: ", ")
            problems.append(
                hasOwnV6
                    ? "has an AAAA record (\(list)) that points elsewhere; Let's Encrypt prefers IPv6 and would validate against that host, not this one."
                    : "has an AAAA record (\(list)) but this server has no public IPv6 address; Let's Encrypt prefers IPv6 and would try that address first. Remove the AAAA record or give this server that address."
            )
        }
        if !foreignV4.isEmpty, !foreignV4.allSatisfy(\.isLoopback) {
            let list = foreignV4.filter { !$0.isLoopback }.map(\.description).joined(separator: ", ")
            problems.append(
                "has an A record (\(list)) that is not an address of this server, so Let's Encrypt would ask another host."
            )
        }
        return problems
    }
}
