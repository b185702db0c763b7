import FoundationEssentials
import SBSCore

/// The database `sbs migrate --from` reads: `postgres://USER@HOST[:PORT]/DB[?sslmode=MODE&sslrootcert=FILE]`.
///
/// A password in the URL is refused: it would stand in the process list of every psql and pg_dump (the password
/// comes from `--password env:NAME|file:PATH` or the terminal, and reaches libpq through a password file that
/// lives only in memory, see `PasswordFile`). A source that is not on loopback must be reached over TLS.
public struct SourceURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    /// libpq's sslmode: `disable` only on loopback; elsewhere `require` (the default), `verify-ca` or `verify-full`.
    public var sslMode: String
    public var sslRootCert: String?

    static let tlsModes: Set<String> = ["require", "verify-ca", "verify-full"]

    /// - Parameter option: how messages name the URL (`--from`, `--to`).
    /// - Throws: `UserError` naming what is wrong with the URL (never repeating a password it holds).
    public init(_ text: String, option: String = "--from") throws(UserError) {
        let usage = "Give it as postgres://USER@HOST:PORT/DATABASE (the password with --password)."
        var rest = Substring(text)
        guard let scheme = ["postgresql://", "postgres://"].first(where: { rest.hasPrefix($0) }) else {
            throw UserError("\(option) must be a postgres:// URL.", remedy: usage)
        }
        rest = rest.dropFirst(scheme.count)
        guard !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) else {
            throw UserError("\(option) contains a space or a control character.", remedy: usage)
        }
        var query = ""
        if let mark = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: mark)...])
            rest = rest[..<mark]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw UserError("\(option) names no database (…/DATABASE at its end).", remedy: usage)
        }
        let authority = rest[..<slash]
        database = try Self.decode(rest[rest.index(after: slash)...], "database", option)
        guard let at = authority.lastIndex(of: "@") else {
            throw UserError("\(option) names no user (USER@ before the host).", remedy: usage)
        }
        let userInfo = authority[..<at]
        if userInfo.contains(":") {
            throw UserError(
                "\(option) holds a password: it would be visible in the process list while the migration runs.",
                remedy:
                    "Remove it from the URL and give it with --password env:NAME or --password file:PATH (or type it when asked)."
            )
        }
        user = try Self.decode(userInfo, "user", option)
        var hostPort = authority[authority.index(after: at)...]
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw UserError("\(option) has an IPv6 address without its closing ].", remedy: usage)
            }
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw UserError("\(option) has something after its IPv6 address.", remedy: usage)
            }
            hostPort = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
        } else if let colon = hostPort.lastIndex(of: ":") {
            portText = hostPort[hostPort.index(after: colon)...]
            hostPort = hostPort[..<colon]
        }
        host = String(hostPort)
        guard !host.isEmpty,
            host.unicodeScalars.allSatisfy({
                ($0.value < 0x80 && (Character($0).isLetter || Character($0).isNumber))
                    || ".-:".unicodeScalars.contains($0)
            })
        else { throw UserError("\(option) has no valid host name.", remedy: usage) }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw UserError("\(option) has a bad port: \(portText).", remedy: usage)
            }
            self.port = port
        } else {
            port = 5432
        }
        var mode: String?
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let value = try Self.decode(parts.count == 2 ? parts[1] : "", String(parts[0]), option)
            switch parts[0] {
            case "sslmode": mode = value
            case "sslrootcert": sslRootCert = value
            default:
                throw UserError(
                    "\(option) has the parameter \(parts[0]), which sbs migrate does not take.",
                    remedy: "Only sslmode and sslrootcert can follow the ?.")
            }
        }
        let loopback = Self.isLoopback(host)
        let chosen = mode ?? (loopback ? "prefer" : "require")
        if !loopback && !Self.tlsModes.contains(chosen) {
            throw UserError(
                "\(option) asks for sslmode=\(chosen), but \(host) is not on this host: the data and the password would cross the network unencrypted.",
                remedy: "Use sslmode=require (the default), verify-ca or verify-full.")
        }
        guard Self.tlsModes.contains(chosen) || ["disable", "allow", "prefer"].contains(chosen) else {
            throw UserError(
                "\(option) has an unknown sslmode: \(chosen).", remedy: "Use require, verify-ca or verify-full.")
        }
        sslMode = chosen
    }

    static func decode(_ text: Substring, _ what: String, _ option: String) throws(UserError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { throw UserError("\(option) has a bad %-escape in its \(what).", remedy: "Write % as %25.") }
            bytes.append(value)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self), !decoded.isEmpty,
            !decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw UserError(
                "\(option) has an empty or badly encoded \(what).", remedy: "Percent-encode special characters.")
        }
        return decoded
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The URL without any secret, as it is shown and recorded.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)"
    }

    /// libpq's connection string for psql and pg_dump: no password in it; the TCP keepalives make a connection
    /// that silently went away fail within about a minute instead of hanging.
    public var connectionString: String {
        var fields = [
            ("host", host), ("port", String(port)), ("dbname", database), ("user", user), ("sslmode", sslMode),
            ("connect_timeout", "15"), ("keepalives_idle", "30"), ("keepalives_interval", "10"),
            ("keepalives_count", "3"), ("application_name", "sbs-migrate"),
        ]
        if let sslRootCert { fields.append(("sslrootcert", sslRootCert)) }
        return fields.map { "\($0.0)=\(Self.quoted($0.1))" }.joined(separator: " ")
    }

    /// A value quoted for a libpq connection string.
    static func quoted(_ value: String) -> String {
        var quoted = "'"
        for character in value {
            if character == "\\" || character == "'" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "'"
    }
}
