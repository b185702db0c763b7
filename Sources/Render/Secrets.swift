import SBSCore

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import FoundationEssentials
#endif

/// The name of a secret: an environment-variable name, `[A-Z][A-Z0-9_]*`, at most 64 characters.
public struct SecretName: CheckedValue, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String

    /// - Throws: `UserError` when the name is not an upper-case environment-variable name.
    public init(_ text: String) throws(UserError) {
        let bytes = Array(text.utf8)
        let valid =
            !bytes.isEmpty && bytes.count <= 64 && (65...90).contains(bytes[0])
            && bytes.allSatisfy { (65...90).contains($0) || (48...57).contains($0) || $0 == 95 }
        guard valid else {
            throw UserError(
                "'\(text.debugSafe)' is not a valid secret name.",
                remedy: "Use upper-case letters, digits and underscores, starting with a letter (ANTHROPIC_API_KEY).")
        }
        self.value = text
    }

    private init(known: String) { self.value = known }

    public var description: String { value }
    public static func < (a: SecretName, b: SecretName) -> Bool { a.value < b.value }

    public static let postgresPassword = SecretName(known: "POSTGRES_PASSWORD")
    public static let jwtSecret = SecretName(known: "JWT_SECRET")
    public static let supabaseAnonKey = SecretName(known: "SUPABASE_ANON_KEY")
    public static let supabaseServiceRoleKey = SecretName(known: "SUPABASE_SERVICE_ROLE_KEY")
    public static let grafanaAdminPassword = SecretName(known: "GRAFANA_ADMIN_PASSWORD")
    /// User-provided, optional.
    public static let anthropicAPIKey = SecretName(known: "ANTHROPIC_API_KEY")
    /// User-provided, optional.
    public static let openaiAPIKey = SecretName(known: "OPENAI_API_KEY")
    /// User-provided, optional (the auth service's mail relay).
    public static let smtpPassword = SecretName(known: "SMTP_PASSWORD")

    /// User-provided, optional: the incoming-webhook URL the monitoring's alerts are posted to (the URL is the
    /// credential). Rendered into Alertmanager's configuration only, never into `.env`.
    public static let alertsWebhookURL = SecretName(known: "ALERTS_WEBHOOK_URL")

    /// The password of the backup repository (`sbs backup`): given by `backups.password`, else generated. restic
    /// reads it through `sbs secrets show`; the deploy `.env` keeps a copy as of every generated secret (no service
    /// is given it), so that a lost `secrets.env` is recovered with the value the repository was made with.
    public static let backupPassword = SecretName(known: "BACKUP_PASSWORD")

    /// The password of app-db's read-only monitoring role (`sbs_monitor`, a member of `pg_monitor`), which
    /// postgres-exporter logs in as. start-stack sets it in app-db each run.
    public static let monitoringDBPassword = SecretName(known: "MONITORING_DB_PASSWORD")

    /// What `generate-secrets` creates when absent (and renders into the stack's `.env`).
    public static let generated: [SecretName] = [
        .postgresPassword, .jwtSecret, .supabaseAnonKey, .supabaseServiceRoleKey, .grafanaAdminPassword,
        .backupPassword, .monitoringDBPassword,
    ]

}

/// Secret values by name, in the order they were stored. Printing, dumping or interpolating a `Secrets` shows
/// the names only, never a value.
public struct Secrets: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public private(set) var names: [SecretName] = []
    private var values: [SecretName: String] = [:]

    public init() {}

    /// - Throws: `UserError` when a value is not storable (see `Secrets.validate`).
    public init(_ pairs: [(SecretName, String)]) throws(UserError) {
        for (name, value) in pairs { try set(name, value) }
    }

    public subscript(name: SecretName) -> String? { values[name] }

    public func contains(_ name: SecretName) -> Bool { values[name] != nil }

    /// Adds or replaces a value.
    /// - Throws: `UserError` when the value breaks `SecretText.validate` (it could not be stored or passed on through
    ///   `.env` safely).
    public mutating func set(_ name: SecretName, _ value: String) throws(UserError) {
        try Self.validate(value, name: name)
        if values[name] == nil { names.append(name) }
        values[name] = value
    }

    /// Every value, for a `Redactor`/`RunLog.addSecret`.
    public var allValues: [String] { names.compactMap { values[$0] } }

    public var description: String { "Secrets(\(names.map(\.value).joined(separator: ", ")))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["names": names.map(\.value)]) }

    /// Equal when the names and every value's bytes are (String equality would take "é" and "e\u{301}" as one).
    public static func == (a: Secrets, b: Secrets) -> Bool {
        a.names == b.names
            && a.names.allSatisfy { a.values[$0].map { Array($0.utf8) } == b.values[$0].map { Array($0.utf8) } }
    }

    static func validate(_ value: String, name: SecretName) throws(UserError) {
        do { try SecretText.validate(value) } catch {
            throw UserError("The secret \(name): \(error.message).", remedy: error.remedy)
        }
    }
}

/// `<root>/etc/sbs/secrets.env`: `NAME=value` lines, mode 0600, written atomically. Values are stored raw (the
/// text after the first `=`); `#` lines are comments.
public struct SecretsFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The stored secrets; empty when the file does not exist.
    ///
    /// Lines end with LF or CRLF (a file saved on Windows reads the same); each value is exactly the bytes after the
    /// first `=` of its line, so writing the secrets back never changes one. A line that is not UTF-8 is refused,
    /// by number, rather than read with a replacement character.
    /// - Throws: `UserError` when the file cannot be read (not a regular file, a link, larger than
    ///   `ReadLimit.secrets`) or has a malformed line (named by number, never by value).
    public func load() throws(UserError) -> Secrets {
        guard let bytes = try AtomicFile.read(path, limit: .secrets, followingLinks: false) else { return Secrets() }
        var secrets = Secrets()
        for (index, raw) in EnvLines.split(bytes).enumerated() {
            // Split at the first '=' byte, not Character: "=" followed by a combining mark is one Character, and
            // the value must be the bytes after the '=' exactly.
            guard String(validating: raw, as: UTF8.self) != nil else {
                throw UserError(
                    "Line \(index + 1) of \(path) is not UTF-8 text.",
                    remedy: "Save the file as UTF-8 (a value with another encoding would be read as different bytes).")
            }
            if raw.isEmpty || raw.first == UInt8(ascii: "#") { continue }
            guard let equals = raw.firstIndex(of: UInt8(ascii: "=")),
                let nameText = String(validating: raw[raw.startIndex..<equals], as: UTF8.self),
                let value = String(validating: raw[(equals + 1)...], as: UTF8.self)
            else {
                throw UserError("Line \(index + 1) of \(path) is not NAME=value.", remedy: "Fix or remove that line.")
            }
            let name: SecretName
            do { name = try SecretName(nameText) } catch {
                throw UserError("Line \(index + 1) of \(path): \(error.message)", remedy: error.remedy)
            }
            if secrets.contains(name) {
                throw UserError(
                    "\(path) names \(name) twice (line \(index + 1)).", remedy: "Keep one of the two lines.")
            }
            do { try secrets.set(name, value) } catch {
                throw UserError("Line \(index + 1) of \(path): \(error.message)", remedy: error.remedy)
            }
        }
        return secrets
    }

    /// Stores `value` under `name`, replacing any earlier value (a user-provided secret such as ANTHROPIC_API_KEY).
    /// - Throws: `UserError` when the value is not storable or the file cannot be read or written.
    public func set(_ name: SecretName, to value: String) throws(UserError) {
        var secrets = try load()
        // Bytes, not String equality: "é" and "e\u{301}" are equal Strings but different secrets.
        if secrets[name].map({ Array($0.utf8) }) == Array(value.utf8) { return }
        try secrets.set(name, value)
        try save(secrets)
    }

    /// Stores `value` only when `name` has no value yet.
    /// - Returns: true when it was stored.
    /// - Throws: `UserError` when the value is not storable or the file cannot be read or written.
    @discardableResult
    public func setIfAbsent(_ name: SecretName, to value: String) throws(UserError) -> Bool {
        var secrets = try load()
        guard !secrets.contains(name) else { return false }
        try secrets.set(name, value)
        try save(secrets)
        return true
    }

    /// Generates every secret of `SecretName.generated` that is absent and keeps every one that exists: a re-run,
    /// a resume or a changed answer never replaces a secret. Existing Supabase keys must verify with the stored
    /// JWT secret; a mismatch is an error, not a reason to re-sign.
    /// - Parameter now: the `iat` of newly signed keys; they expire ten years later.
    /// - Returns: all secrets and the names generated by this call.
    /// - Throws: `UserError` when the file cannot be read or written, or its keys do not match its JWT secret.
    @discardableResult
    public func generateMissing(now: Date = Date()) throws(UserError) -> (secrets: Secrets, generated: [SecretName]) {
        var secrets = try load()
        var generated: [SecretName] = []
        func add(_ name: SecretName, _ value: String) throws(UserError) {
            try secrets.set(name, value)
            generated.append(name)
        }
        if !secrets.contains(.postgresPassword) { try add(.postgresPassword, RandomToken.alphanumeric(32)) }

        let keyRoles: [(SecretName, String)] = [(.supabaseAnonKey, "anon"), (.supabaseServiceRoleKey, "service_role")]
        if secrets[.jwtSecret] == nil {
            if let orphan = keyRoles.first(where: { secrets.contains($0.0) }) {
                throw UserError(
                    "\(path) holds \(orphan.0) but no JWT_SECRET it was signed with.",
                    remedy:
                        "Restore JWT_SECRET, or delete SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY as well so that sbs signs new keys (clients with the old keys must then be updated)."
                )
            }
            // 48 random bytes (≥ 32 required), base64url: 64 characters, safe everywhere without quoting.
            try add(.jwtSecret, SupabaseJWT.base64URL(RandomToken.bytes(48)))
        }
        let jwtSecret = secrets[.jwtSecret] ?? ""
        let issuedAt = Int64(now.timeIntervalSince1970)
        for (name, role) in keyRoles {
            if let existing = secrets[name] {
                guard let claims = SupabaseJWT.verify(existing, secret: jwtSecret), claims.role == role else {
                    throw UserError(
                        "\(name) in \(path) is not a \(role) key signed with its JWT_SECRET.",
                        remedy: "Restore the matching JWT_SECRET, or delete \(name) so that sbs signs a new one.")
                }
                continue
            }
            let claims = SupabaseJWT.Claims(role: role, iat: issuedAt, exp: issuedAt + 10 * 365 * 86_400)
            try add(name, SupabaseJWT.sign(claims, secret: jwtSecret))
        }
        if !secrets.contains(.grafanaAdminPassword) { try add(.grafanaAdminPassword, RandomToken.alphanumeric(24)) }
        // Without it no backup can be read: the install's summary says to keep a copy away from this server.
        if !secrets.contains(.backupPassword) { try add(.backupPassword, RandomToken.alphanumeric(40)) }
        // Set in app-db by start-stack each run: a new one (an installation from before monitoring had it) is taken.
        if !secrets.contains(.monitoringDBPassword) {
            try add(.monitoringDBPassword, RandomToken.alphanumeric(32))
        }

        if !generated.isEmpty { try save(secrets) } else { try tightenMode() }
        return (secrets, generated)
    }

    /// `generateMissing`, except that when `secrets.env` lacks generated secrets while the stack was already set up
    /// with some, they are recovered rather than made anew: a new database password or JWT secret would not
    /// match the initialised database volume, and the install would break in ways that are hard to see.
    /// - Parameters:
    ///   - given: secrets the answers give; each replaces an earlier value (a new API key).
    ///   - deployEnvPath: the deploy folder's `.env`, which holds every secret the stack runs with.
    ///   - databaseVolume: the database volume's name when it exists (its password is fixed at creation), else nil.
    /// - Returns: as `generateMissing`, and the names recovered from `.env`.
    /// - Throws: `UserError` with a remedy when a secret the stack depends on can be found nowhere.
    public func ensure(
        given: [SecretName: String] = [:], deployEnvPath: String, databaseVolume: String?, now: Date = Date()
    )
        throws(UserError) -> (secrets: Secrets, generated: [SecretName], recovered: [SecretName])
    {
        var secrets = try load()
        let before = secrets
        for (name, value) in given.sorted(by: { $0.key < $1.key }) { try secrets.set(name, value) }
        let missing = SecretName.generated.filter { !secrets.contains($0) }
        var recovered: [SecretName] = []
        if !missing.isEmpty {
            // BACKUP_PASSWORD is not among them: an installation made before sbs had backups has none anywhere,
            // and gets one; the deploy .env of every later one keeps a copy.
            let bound: [SecretName] = [.postgresPassword, .jwtSecret]
            if let bytes = try AtomicFile.read(deployEnvPath, limit: .secrets, followingLinks: false) {
                let found = DeployEnvFile.secrets(in: bytes)
                for name in missing {
                    if let value = found[name] {
                        try secrets.set(name, value)
                        recovered.append(name)
                    } else if bound.contains(name) {
                        throw UserError(
                            "\(path) has no \(name), and the deploy file \(deployEnvPath) has none either; a new value would not match what the stack was set up with.",
                            remedy:
                                "Restore \(path) (or \(deployEnvPath)) from a backup; earlier .env files are kept under /var/lib/sbs/backups/. To start over instead, remove \(deployEnvPath) and the database volume (`docker volume ls` lists it as …_postgres_data)."
                        )
                    }
                }
            } else if let volume = databaseVolume, missing.contains(.postgresPassword) {
                throw UserError(
                    "\(path) has no POSTGRES_PASSWORD, but the database volume \(volume) exists and was initialised with one; there is no deploy .env to recover it from.",
                    remedy:
                        "Restore \(path) from a backup. To start over instead, remove the volume (docker volume rm \(volume)): its data is lost."
                )
            }
        }
        if secrets != before { try save(secrets) }
        let (all, generated) = try generateMissing(now: now)
        return (all, generated, recovered)
    }

    func save(_ secrets: Secrets) throws(UserError) {
        var text = "# sbs secrets: generated once and never replaced by sbs. Mode 0600.\n"
        text += "# Read one with `sbs secrets show NAME`. Lines are NAME=value; the value is everything after '='.\n"
        for name in secrets.names {
            guard let value = secrets[name] else { continue }
            text += "\(name)=\(value)\n"
        }
        try AtomicFile.write(text, to: path, mode: 0o600)
    }

    /// An existing file left readable by others (copied by hand, say) is brought back to 0600.
    func tightenMode() throws(UserError) {
        guard AtomicFile.exists(path) else { return }
        if chmod(path, 0o600) != 0 { throw AtomicFile.systemError("chmod", path) }
    }
}

/// The deploy folder's `.env` as sbs renders it: `NAME='value'` lines (see `assets/deploy/.env.mustache`).
public enum DeployEnvFile {
    /// The secrets in a rendered `.env`, by name: the inverse of how the template writes them. Lines that are not
    /// `NAME='value'` with a valid secret name and value are passed over.
    public static func secrets(in text: String) -> [SecretName: String] { secrets(in: Array(text.utf8)) }

    /// The secrets in a rendered `.env` read as bytes: lines end at LF or CRLF, and a line that is not UTF-8 is
    /// passed over (its value would not be the bytes it holds).
    public static func secrets(in bytes: [UInt8]) -> [SecretName: String] {
        var result: [SecretName: String] = [:]
        for raw in EnvLines.split(bytes) {
            guard let line = String(validating: raw, as: UTF8.self) else { continue }
            guard let equals = line.firstIndex(of: "="), let name = try? SecretName(String(line[..<equals])) else {
                continue
            }
            let value = line[line.index(after: equals)...]
            guard value.count >= 2, value.first == "'", value.last == "'" else { continue }
            let inner = String(value.dropFirst().dropLast())
            if (try? SecretText.validate(inner)) != nil { result[name] = inner }
        }
        return result
    }
}

/// The lines of an env file as bytes: split at LF, a CR before the LF dropped (CRLF is a line end too). A `String`
/// cannot be split this way: "\r\n" is one `Character`, so splitting at "\n" would find no line end at all.
enum EnvLines {
    static func split(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { $0.last == 13 ? $0.dropLast() : $0 }
    }
}
