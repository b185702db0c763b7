import SBSCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address in canonical text form (`inet_ntop`), so that equal addresses compare equal.
public struct IPAddress: CheckedValue, Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Family: String, Codable, Sendable { case v4, v6 }

    public let family: Family
    public let bytes: [UInt8]
    public let description: String

    /// Parses text such as `203.0.113.7` or `2001:db8::1`.
    /// - Throws: `UserError` when the text is neither.
    public init(_ text: String) throws(UserError) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(uncheckedBytes: withUnsafeBytes(of: &v4) { Array($0) })
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(uncheckedBytes: withUnsafeBytes(of: &v6) { Array($0) })
        } else {
            throw UserError(
                "'\(text.debugSafe)' is not an IP address.",
                remedy: "Use an address such as 203.0.113.7 or 2001:db8::1.")
        }
    }

    /// 4 or 16 bytes in network order; nil for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.init(uncheckedBytes: bytes)
    }

    private init(uncheckedBytes bytes: [UInt8]) {
        self.bytes = bytes
        self.family = bytes.count == 4 ? .v4 : .v6
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let text = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)).map { _ in
                String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        self.description = text ?? bytes.map(String.init).joined(separator: ".")
    }

    /// 127.0.0.0/8, ::1, and IPv4-mapped loopback.
    public var isLoopback: Bool {
        switch family {
        case .v4: return bytes[0] == 127
        case .v6: return bytes == [UInt8](repeating: 0, count: 15) + [1] || (isV4Mapped && bytes[12] == 127)
        }
    }

    /// 169.254.0.0/16 and fe80::/10.
    public var isLinkLocal: Bool {
        switch family {
        case .v4: return bytes[0] == 169 && bytes[1] == 254
        case .v6: return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80
        }
    }

    /// RFC 1918, 100.64.0.0/10 (carrier-grade NAT) and fc00::/7: addresses a public CA cannot reach.
    public var isPrivate: Bool {
        switch family {
        case .v4:
            return bytes[0] == 10 || (bytes[0] == 172 && (bytes[1] & 0xf0) == 16)
                || (bytes[0] == 192 && bytes[1] == 168)
                || (bytes[0] == 100 && (bytes[1] & 0xc0) == 64)
        case .v6:
            return (bytes[0] & 0xfe) == 0xfc
        }
    }

    var isV4Mapped: Bool {
        family == .v6 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.family != b.family { return a.family == .v4 }
        return a.bytes.lexicographicallyPrecedes(b.bytes)
    }

    /// The address as text, as it is stored.
    public var value: String { description }
}
