import Host
import SBSCore
import Synchronization
import Testing

/// A resolver that answers from a table of names. It fails closed: a name not in the table records a test failure
/// and throws. A name that does not exist is in the table with an empty answer; a lookup that fails (no resolver
/// reachable) is in `failing` with the resolver's message.
public final class TableResolver: DomainResolver {
    public let table: [String: DNSAnswer]
    public let failing: [String: String]
    private let asked = Mutex<[String]>([])
    private let sourceLocation: SourceLocation

    public init(
        _ table: [String: DNSAnswer], failing: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        self.table = table
        self.failing = failing
        self.sourceLocation = sourceLocation
    }

    /// The names looked up, in order.
    public var lookups: [String] { asked.withLock { $0 } }

    public func resolve(_ name: DomainName) async throws(UserError) -> DNSAnswer {
        asked.withLock { $0.append(name.value) }
        if let message = failing[name.value] { throw UserError(message) }
        guard let answer = table[name.value] else {
            Issue.record("unexpected lookup of \(name.value)", sourceLocation: sourceLocation)
            throw UserError("no answer for \(name.value) in the test table")
        }
        return answer
    }
}

/// This machine's addresses, as given.
public struct FixedAddresses: LocalAddressSource {
    public let addresses: [String]

    public init(addresses: [String]) { self.addresses = addresses }

    public func localAddresses() throws(UserError) -> [IPAddress] {
        try addresses.map { (text: String) throws(UserError) in try IPAddress(text) }
    }
}
