/// Values that reach generated files. Each type rejects at construction anything that could break out of a
/// YAML scalar, an nginx directive or a shell-style `.env` line, so renderers never need to escape.

/// A value checked when it is made: stored (encoded) as its raw value, and checked again when decoded, so a
/// hand-edited state or answers file cannot slip an unchecked value past the type. A refused value is a
/// `DecodingError` at its coding path, so the message names the field.
public protocol CheckedValue: Codable {
    associatedtype Raw: Codable
    var value: Raw { get }
    init(_ raw: Raw) throws(UserError)
}

extension CheckedValue {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(Raw.self)
        do { try self.init(raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// A fully qualified DNS name (lower-cased), such as `shop.example.com`.
public struct DomainName: CheckedValue, Hashable, Sendable, CustomStringConvertible, Comparable {
    public let value: String

    public init(_ text: String) throws(UserError) {
        let name = text.lowercased()
        if let reason = DomainName.problem(name) {
            throw UserError("'\(text.debugSafe)' is not a valid domain name: \(reason)",
                            remedy: "Use a fully qualified name such as shop.example.com.")
        }
        self.value = name
    }

    static func problem(_ name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name.utf8.count > 253 { return "it is longer than 253 characters" }
        if name.hasSuffix(".") { return "remove the trailing dot" }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 { return "it needs at least two labels (a name and a top-level domain)" }
        for label in labels {
            if label.isEmpty { return "it has an empty label (two dots in a row)" }
            if label.utf8.count > 63 { return "the label '\(label)' is longer than 63 characters" }
            for byte in label.utf8 {
                let ok = (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 45
                if !ok {
                    return "it contains \(describeByte(byte)); only letters, digits, hyphens and dots are allowed"
                }
            }
            if label.hasPrefix("-") || label.hasSuffix("-") { return "the label '\(label)' starts or ends with a hyphen" }
        }
        if let last = labels.last, last.allSatisfy({ $0.isNumber }) { return "the top-level domain is numeric" }
        return nil
    }

    public var description: String { value }
    public static func < (a: DomainName, b: DomainName) -> Bool { a.value < b.value }

}

/// An e-mail address with a plain local part and a valid domain.
public struct EmailAddress: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ text: String) throws(UserError) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw UserError("'\(text.debugSafe)' is not a valid e-mail address: it needs exactly one '@' with a name before it",
                            remedy: "Use an address such as admin@example.com.")
        }
        let local = parts[0]
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`|~-".utf8)
        if local.utf8.count > 64 || local.utf8.contains(where: { !allowed.contains($0) || $0 == 39 || $0 == 96 || $0 == 36 }) {
            throw UserError("'\(text.debugSafe)' is not a valid e-mail address: the part before '@' may hold letters, digits and . _ + - only",
                            remedy: "Use an address such as admin@example.com.")
        }
        if local.hasPrefix(".") || local.hasSuffix(".") || local.contains("..") {
            throw UserError("'\(text.debugSafe)' is not a valid e-mail address: misplaced dot before '@'",
                            remedy: "Use an address such as admin@example.com.")
        }
        do {
            _ = try DomainName(String(parts[1]))
        } catch {
            throw UserError("'\(text.debugSafe)' is not a valid e-mail address: its domain is invalid (\(error.message))",
                            remedy: "Use an address such as admin@example.com.")
        }
        self.value = String(local) + "@" + parts[1].lowercased()
    }

    public var description: String { value }

}

/// A TCP port, 1–65535.
public struct Port: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: Int

    public init(_ number: Int) throws(UserError) {
        guard (1...65535).contains(number) else {
            throw UserError("\(number) is not a valid port: ports run from 1 to 65535")
        }
        self.value = number
    }

    private init(known: Int) { value = known }
    public static let http = Port(known: 80)
    public static let https = Port(known: 443)

    public var description: String { String(value) }

}

/// Text safe inside a double-quoted YAML scalar, an nginx directive and a `.env` value: printable ASCII
/// without quotes, backslashes, `$`, `;`, braces, backticks, `#` or white space. Image names, paths and
/// generated secrets are `SafeToken`s.
public struct SafeToken: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: String
    static let forbidden = Set("\"'\\$;{}`# \t\r\n".utf8)

    public init(_ text: String) throws(UserError) { try self.init(text, what: "value") }

    public init(_ text: String, what: String) throws(UserError) {
        if text.isEmpty { throw UserError("The \(what) is empty.") }
        if let bad = text.utf8.first(where: { $0 < 0x21 || $0 > 0x7e || SafeToken.forbidden.contains($0) }) {
            throw UserError("The \(what) '\(text.debugSafe)' contains \(describeByte(bad)), which could break a generated file.",
                            remedy: "Use printable characters without quotes, spaces, '$', ';', '#', braces or backslashes.")
        }
        self.value = text
    }

    public var description: String { value }

}

func describeByte(_ byte: UInt8) -> String {
    switch byte {
    case 10: return "a newline"
    case 13: return "a carriage return"
    case 9: return "a tab"
    case 32: return "a space"
    case 0..<32, 127...: return String(format0x: byte)
    default: return "'\(Character(Unicode.Scalar(byte)))'"
    }
}

extension String {
    init(format0x byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = "the byte 0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 15)])"
    }

    /// The text with control characters shown escaped, for error messages.
    public var debugSafe: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 32 || scalar.value == 127 { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out.count > 80 ? String(out.prefix(77)) + "..." : out
    }
}

/// The most names one certificate may carry (Let's Encrypt's limit): the answers' domain and aliases together,
/// and the `--domain`s of `sbs cert issue`.
public enum CertificateNames {
    public static let maximum = 100
}

/// URLs as sbs shows them: the userinfo of a URL (`user:password@`) is a credential and is never printed.
public enum URLText {
    /// The userinfo of `url` (`user:password` in `https://user:password@host/dir`; also without a scheme), or nil
    /// when its authority has no `@`.
    public static func userinfo(of url: String) -> Substring? {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return nil }
        return authority[..<at]
    }

    /// `url` with its userinfo, if any, replaced by `***`.
    public static func redacted(_ url: String) -> String {
        guard let userinfo = userinfo(of: url) else { return url }
        return String(url[..<userinfo.startIndex]) + "***" + String(url[userinfo.endIndex...])
    }
}
