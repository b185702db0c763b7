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
            throw UserError(
                "'\(text.debugSafe)' is not a valid domain name: \(reason)",
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
            if label.hasPrefix("-") || label.hasSuffix("-") {
                return "the label '\(label)' starts or ends with a hyphen"
            }
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
            throw UserError(
                "'\(text.debugSafe)' is not a valid e-mail address: it needs exactly one '@' with a name before it",
                remedy: "Use an address such as admin@example.com.")
        }
        let local = parts[0]
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`|~-".utf8)
        if local.utf8.count > 64
            || local.utf8.contains(where: { !allowed.contains($0) || $0 == 39 || $0 == 96 || $0 == 36 })
        {
            throw UserError(
                "'\(text.debugSafe)' is not a valid e-mail address: the part before '@' may hold letters, digits and . _ + - only",
                remedy: "Use an address such as admin@example.com.")
        }
        if local.hasPrefix(".") || local.hasSuffix(".") || local.contains("..") {
            throw UserError(
                "'\(text.debugSafe)' is not a valid e-mail address: misplaced dot before '@'",
                remedy: "Use an address such as admin@example.com.")
        }
        do {
            _ = try DomainName(String(parts[1]))
        } catch {
            throw UserError(
                "'\(text.debugSafe)' is not a valid e-mail address: its domain is invalid (\(error.message))",
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
    public static let ssh = Port(known: 22)

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
            throw UserError(
                "The \(what) '\(text.debugSafe)' contains \(describeByte(bad)), which could break a generated file.",
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
                if scalar.value < 32 || scalar.value == 127 {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out.count > 80 ? String(out.prefix(77)) + "..." : out
    }
}

/// Which ACME directory certificates come from: `letsencrypt`, `letsencrypt-staging`, a directory's `https://` URL,
/// or a plain `http://` URL on this machine only (127.0.0.0/8, ::1, localhost: a test CA such as Pebble; elsewhere
/// the registration and every request would cross the network in clear text). The one rule for the answers'
/// `tls.acme_directory`, `sbs cert issue --directory`, the install's obtain-certificate step and `sbs renew`.
public struct ACMEServer: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    /// As written (`letsencrypt`, `letsencrypt-staging` or the URL): what the answers keep.
    public let value: String

    public static let letsEncryptURL = "https://acme-v02.api.letsencrypt.org/directory"
    public static let letsEncryptStagingURL = "https://acme-staging-v02.api.letsencrypt.org/directory"

    private init(known: String) { value = known }
    public static let letsEncrypt = ACMEServer(known: "letsencrypt")
    public static let letsEncryptStaging = ACMEServer(known: "letsencrypt-staging")

    public init(_ text: String) throws(UserError) {
        switch text {
        case "letsencrypt", "letsencrypt-production": self = .letsEncrypt
        case "letsencrypt-staging": self = .letsEncryptStaging
        default:
            if let problem = Self.problem(text) {
                throw UserError(
                    "\(text.isEmpty ? "An empty ACME directory" : "The ACME directory '\(URLText.redacted(text).debugSafe)'") \(problem)",
                    remedy:
                        "Use letsencrypt, letsencrypt-staging, or the directory's https:// URL (plain http:// only for 127.0.0.1, ::1 or localhost)."
                )
            }
            value = text
        }
    }

    /// The directory's URL.
    public var url: String {
        switch value {
        case "letsencrypt": return Self.letsEncryptURL
        case "letsencrypt-staging": return Self.letsEncryptStagingURL
        default: return value
        }
    }

    public var description: String { value }

    /// Why `text` is no directory URL sbs uses, or nil.
    static func problem(_ text: String) -> String? {
        if text.isEmpty { return "is not a directory: give letsencrypt, letsencrypt-staging or a URL" }
        if let bad = text.utf8.first(where: { $0 < 0x21 || $0 > 0x7e || $0 == 34 || $0 == 39 || $0 == 92 }) {
            return "contains \(describeByte(bad))"
        }
        let plain: Bool
        let rest: Substring
        if text.hasPrefix("https://") {
            plain = false
            rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            plain = true
            rest = text.dropFirst(7)
        } else {
            return "is not letsencrypt, letsencrypt-staging or an https:// URL"
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.contains("@") {
            return
                "holds a user name or password: ACME authenticates with the account key, and a credential in the URL would be kept and shown"
        }
        guard let (host, port) = HostAndPort.split(authority) else {
            return "has no valid host[:port] after the scheme"
        }
        if let port, HostAndPort.port(port) == nil {
            return "has the port '\(String(port).debugSafe)': ports run from 1 to 65535"
        }
        if HostAndPort.hostProblem(host) != nil { return "has no valid host: '\(String(host).debugSafe)'" }
        if plain && !Self.isLoopback(host.lowercased()) {
            return
                "is plain http:// on a host that is not this machine: the account registration and every request would cross the network unencrypted"
        }
        return nil
    }

    /// 127.0.0.0/8, ::1 (bracketed in a URL) and localhost.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { UInt8($0) != nil && ($0 == "0" || !$0.hasPrefix("0")) }
    }
}

/// `host[:port]` as docker's reference grammar reads a registry: DNS components of letters, digits and inner
/// hyphens, an IPv4 address, or a bracketed IPv6 address; a port of digits only, 1–65535.
enum HostAndPort {
    /// Splits `host[:port]` (a bracketed IPv6 host keeps its brackets); nil when a ':' leaves an empty side.
    static func split(_ text: Substring) -> (host: Substring, port: Substring?)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = text[...close]
            let after = text[text.index(after: close)...]
            if after.isEmpty { return (host, nil) }
            guard after.hasPrefix(":") else { return nil }
            return (host, after.dropFirst())
        }
        guard let colon = text.firstIndex(of: ":") else { return text.isEmpty ? nil : (text, nil) }
        let host = text[..<colon]
        if host.isEmpty { return nil }
        return (host, text[text.index(after: colon)...])
    }

    /// The port: digits only (no sign), 1–65535.
    static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int(text),
            (1...65535).contains(number)
        else { return nil }
        return number
    }

    /// Why `host` is no registry host, or nil.
    static func hostProblem(_ host: Substring) -> String? {
        if host.hasPrefix("[") {
            let inner = host.dropFirst().dropLast()
            guard host.hasSuffix("]"), inner.contains(":"),
                inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." })
            else { return "not an IPv6 address" }
            return nil
        }
        if host.utf8.count > 253 { return "longer than 253 characters" }
        for component in host.split(separator: ".", omittingEmptySubsequences: false) {
            guard !component.isEmpty else { return "an empty component (two dots in a row, or a dot at an end)" }
            guard
                component.utf8.allSatisfy({
                    ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45
                })
            else {
                return "'\(String(component).debugSafe)' holds a character other than letters, digits and '-'"
            }
            if component.hasPrefix("-") || component.hasSuffix("-") { return "'\(component)' starts or ends with '-'" }
            if component.utf8.count > 63 { return "'\(component)' is longer than 63 characters" }
        }
        return nil
    }
}

/// A registry as image names start with it: `host[:port]` (`registry.example.com:5000`), no scheme, no path.
public struct RegistryHost: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ text: String) throws(UserError) {
        let remedy = "Give host or host:port as image names start with it (registry.example.com:5000)."
        guard let (host, port) = HostAndPort.split(Substring(text)) else {
            throw UserError(
                "'\(text.debugSafe)' is not a registry: \(text.isEmpty ? "it is empty" : "host and port are separated by one ':' with both sides given")",
                remedy: remedy)
        }
        if let problem = HostAndPort.hostProblem(host) {
            throw UserError("'\(text.debugSafe)' is not a registry: the host has \(problem)", remedy: remedy)
        }
        if let port, HostAndPort.port(port) == nil {
            throw UserError(
                "'\(text.debugSafe)' is not a registry: the port '\(String(port).debugSafe)' is not a number from 1 to 65535",
                remedy: remedy)
        }
        value = text
    }

    public var description: String { value }
}

/// An image reference as docker reads it (distribution/reference): `[domain[:port]/]path[:tag][@digest]`. The
/// first component is the registry when it holds a '.' or a ':' or is `localhost` (docker's rule), and is then a
/// `RegistryHost`; path components are lowercase letters and digits joined by one '.', one or two '_', or '-'s;
/// the tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; the digest `sha256:` (64), `sha384:` (96) or `sha512:` (128)
/// lowercase hex digits. Nothing else reaches a compose file or a docker command line (so a name never starts with
/// '-' and never reads as an option).
public struct ImageReference: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ text: String) throws(UserError) {
        if let problem = Self.problem(text) {
            throw UserError(
                "'\(text.debugSafe)' is not an image name: \(problem)",
                remedy:
                    "Write [registry[:port]/]name[:tag][@sha256:digest], the name in lowercase (registry.example.com:5000/org/api:1.0.0)."
            )
        }
        value = text
    }

    public var description: String { value }

    /// The same repository with `tag` in place of its tag and digest (`orchestrator-ai/api:1.0.0` → `…:1.1.0`).
    /// - Throws: `UserError` when `tag` is not a tag.
    public func withTag(_ tag: String) throws(UserError) -> ImageReference {
        var name = Substring(value)
        if let at = name.firstIndex(of: "@") { name = name[..<at] }
        // The tag follows the last ':' after the last '/' (a ':' before it belongs to the registry's port).
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = name[..<colon] }
        return try ImageReference("\(name):\(tag)")
    }

    static let digestLengths = ["sha256": 64, "sha384": 96, "sha512": 128]

    static func problem(_ text: String) -> String? {
        if text.isEmpty { return "it is empty" }
        // Letters, digits and . _ - / : @ [ ] only (the brackets of an IPv6 registry).
        if let bad = text.utf8.first(where: {
            !(($0 >= 48 && $0 <= 58) || ($0 >= 64 && $0 <= 91) || ($0 >= 97 && $0 <= 122) || $0 == 93 || $0 == 95
                || $0 == 45 || $0 == 46 || $0 == 47)
        }) {
            return "it contains \(describeByte(bad))"
        }
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            let parts = digest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let length = digestLengths[String(parts[0])] else {
                return "a digest is sha256:, sha384: or sha512: and its hex digits"
            }
            guard parts[1].count == length,
                parts[1].utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
            else {
                return "a \(parts[0]) digest is \(length) lowercase hex digits"
            }
            rest = rest[..<at]
        }
        // The tag follows the last ':' after the last '/' (a ':' before it belongs to the registry's port).
        let lastSlash = rest.lastIndex(of: "/")
        let lastPart = lastSlash.map { rest[rest.index(after: $0)...] } ?? rest
        if let colon = lastPart.lastIndex(of: ":") {
            let tag = lastPart[lastPart.index(after: colon)...]
            if let problem = tagProblem(tag) { return problem }
            rest = rest[..<colon]
        }
        if rest.isEmpty { return "it has no name" }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        if components.count > 1,
            components[0].contains(".") || components[0].contains(":") || components[0] == "localhost"
                || components[0].hasPrefix("[")
        {
            let domain = components.removeFirst()
            do { _ = try RegistryHost(String(domain)) } catch {
                return "its registry '\(String(domain).debugSafe)' is not host[:port] with a port from 1 to 65535"
            }
        }
        if rest.utf8.count > 255 { return "the name is longer than 255 characters" }
        for component in components {
            if let problem = pathComponentProblem(component) { return problem }
        }
        return nil
    }

    static func tagProblem(_ tag: Substring) -> String? {
        func word(_ byte: UInt8) -> Bool {
            (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95
        }
        guard let first = tag.utf8.first, word(first) else {
            return tag.isEmpty
                ? "the tag after ':' is empty" : "the tag '\(String(tag).debugSafe)' starts with a letter, digit or '_'"
        }
        guard tag.utf8.count <= 128 else { return "the tag is longer than 128 characters" }
        guard tag.utf8.allSatisfy({ word($0) || $0 == 46 || $0 == 45 }) else {
            return "the tag '\(String(tag).debugSafe)' may hold letters, digits, '_', '.' and '-' only"
        }
        return nil
    }

    /// `[a-z0-9]+` joined by `.`, `_`, `__` or `-+`.
    static func pathComponentProblem(_ component: Substring) -> String? {
        let bytes = Array(component.utf8)
        func alnum(_ byte: UInt8) -> Bool { (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) }
        let why =
            "the path component '\(String(component).debugSafe)' must be lowercase letters and digits joined by '.', '_', '__' or '-'"
        guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last) else {
            return component.isEmpty ? "it has an empty path component ('//' or a '/' at an end)" : why
        }
        var index = 0
        while index < bytes.count {
            if alnum(bytes[index]) {
                index += 1
                continue
            }
            var end = index
            while end < bytes.count, !alnum(bytes[end]) { end += 1 }
            let separator = bytes[index..<end]
            let ok =
                separator.elementsEqual([46]) || separator.elementsEqual([95]) || separator.elementsEqual([95, 95])
                || separator.allSatisfy { $0 == 45 }
            if !ok { return why }
            index = end
        }
        return nil
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

/// An outbound proxy (`proxy.url`): `http://host:port` or `https://host:port`, nothing else. It reaches dockerd's
/// environment and the children's `https_proxy`, so it holds no credentials (they would be a secret in an
/// environment) and no character beyond a host's, a port's and the scheme's.
public struct ProxyURL: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ text: String) throws(UserError) {
        let remedy = "Give the proxy as http://HOST:PORT (such as http://proxy.office.lan:3128)."
        func refuse(_ reason: String) -> UserError {
            UserError("'\(text.debugSafe)' is not a proxy: \(reason)", remedy: remedy)
        }
        let lower = text.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lower.hasPrefix($0) }) else {
            throw refuse("it starts with http:// or https://")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.contains("@") {
            throw UserError(
                "'\(String(text.prefix(scheme.count)))…@…' is not a proxy sbs can use: it holds a user and password, which would stand in dockerd's and other programs' environment",
                remedy: "Let the proxy admit this server by its address, and give http://HOST:PORT.")
        }
        if rest.contains("/") || rest.contains("?") || rest.contains("#") { throw refuse("it has a path") }
        guard let (host, port) = HostAndPort.split(rest) else { throw refuse("it needs a host, and a port after ':'") }
        if let problem = HostAndPort.hostProblem(host) { throw refuse("the host has \(problem)") }
        if let port, HostAndPort.port(port) == nil {
            throw refuse("the port '\(String(port).debugSafe)' is not a number from 1 to 65535")
        }
        value = String(lower.prefix(scheme.count)) + rest
    }

    public var description: String { value }
}

/// One entry of `proxy.no_proxy`: a host name or `.domain` (its subdomains), an IP address, a CIDR network, or
/// `*`. The characters a name, an IPv6 address and a prefix length use, so that a list joined with ',' reads back.
public struct NoProxyEntry: CheckedValue, Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ text: String) throws(UserError) {
        let allowed = text.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 46
                || $0 == 58 || $0 == 47 || $0 == 42 || $0 == 95 || $0 == 91 || $0 == 93
        }
        guard !text.isEmpty, text.utf8.count <= 255, allowed, !text.hasPrefix("-") else {
            throw UserError(
                "'\(text.debugSafe)' is not a no_proxy entry: give a host name, .domain, an IP address or a network (10.0.0.0/8)",
                remedy: "List one name, address or network per item.")
        }
        value = text.lowercased()
    }

    public var description: String { value }
}
