import Crypto
import FoundationEssentials
import SBSCore

/// What sbs keeps about one CA in the account folder (`<root>/etc/sbs/acme/<ca>/`):
/// `account.key` (P-256, PKCS#8 PEM, 0600), `account.json` (its URL and contact) and `orders/<set>.json`
/// (an in-flight order, so a stopped run resumes it instead of starting over). The folder is 0700: it holds keys.
public struct AccountStore: Sendable {
    public let folder: String

    /// - Parameters:
    ///   - accountDirectory: `<root>/etc/sbs/acme`.
    ///   - directoryURL: the CA's directory; each CA gets its own subfolder (staging and production accounts
    ///     are different accounts).
    public init(accountDirectory: String, directoryURL: String) {
        folder = accountDirectory + "/" + AccountStore.folderName(for: directoryURL)
    }

    /// `host_port-<8 hex of SHA-256(url)>`: readable, and distinct for two directories on one host.
    static func folderName(for directoryURL: String) -> String {
        var host = directoryURL
        if let range = host.firstRange(of: "://") { host = String(host[range.upperBound...]) }
        host = String(host.prefix(while: { $0 != "/" }))
        let safe = String(host.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
        let digest = Hex.encode(SHA256.hash(data: Array(directoryURL.utf8))).prefix(8)
        return "\(safe)-\(digest)"
    }

    var keyPath: String { folder + "/account.key" }
    var accountPath: String { folder + "/account.json" }

    /// The stored account key, or a new one stored 0600 before anything is sent with it.
    /// - Throws: `ACMEError` (`.local`) when the key file is unreadable or not a P-256 key.
    public func loadOrCreateKey() throws -> (key: P256.Signing.PrivateKey, created: Bool) {
        try FileIO.makeDirectories(folder, mode: 0o700)
        if let pem = try FileIO.readText(keyPath, limit: .pem, followingLinks: false) {
            do { return (try P256.Signing.PrivateKey(pemRepresentation: pem), false) } catch {
                throw ACMEError.local(
                    "\(keyPath) is not a P-256 private key: \(error)",
                    remedy: "Restore the file, or delete it (and account.json) to register a new account.")
            }
        }
        let key = P256.Signing.PrivateKey()
        try FileIO.writeAtomically(key.pemRepresentation + "\n", to: keyPath, mode: 0o600)
        return (key, true)
    }

    public struct AccountRecord: Codable, Sendable, Equatable {
        public var url: String
        public var directory: String
        public var contact: [String]
    }

    public func loadAccount() throws -> AccountRecord? {
        guard let bytes = try FileIO.read(accountPath, limit: .state, followingLinks: false) else { return nil }
        return try? JSONDecoder().decode(AccountRecord.self, from: Data(bytes))
    }

    public func saveAccount(_ record: AccountRecord) throws {
        try FileIO.writeAtomically(try JSONEncoder.acme.encode(record).bytes, to: accountPath, mode: 0o600)
    }

    // MARK: Orders

    func orderPath(for identifiers: [String]) -> String {
        let key = identifiers.sorted().joined(separator: ",")
        return folder + "/orders/" + Hex.encode(SHA256.hash(data: Array(key.utf8))).prefix(16) + ".json"
    }

    public func loadOrder(for identifiers: [String]) throws -> OrderState? {
        guard let bytes = try FileIO.read(orderPath(for: identifiers), limit: .state, followingLinks: false) else {
            return nil
        }
        return try? JSONDecoder().decode(OrderState.self, from: Data(bytes))
    }

    /// Saved 0600: it may hold the certificate key of an order being finalized.
    public func saveOrder(_ state: OrderState) throws {
        try FileIO.makeDirectories(folder + "/orders", mode: 0o700)
        try FileIO.writeAtomically(
            try JSONEncoder.acme.encode(state).bytes, to: orderPath(for: state.identifiers), mode: 0o600)
    }

    public func removeOrder(for identifiers: [String]) {
        FileIO.remove(orderPath(for: identifiers))
    }
}

/// An order in flight, persisted after every step that changes it.
public struct OrderState: Codable, Sendable, Equatable {
    public var identifiers: [String]
    public var orderURL: String?
    /// The certificate key (PKCS#8 PEM) once a CSR was sent: a resumed `valid` order's certificate is only
    /// usable with the key its CSR carried.
    public var certificateKeyPEM: String?
    /// A rate limit's end: until then sbs refuses to ask the CA again for these names.
    public var notBefore: Date?
    public var lastError: String?

    public init(identifiers: [String]) {
        self.identifiers = identifiers
    }
}

/// How a certificate was obtained, kept beside the account data (`<acme>/renewal/<name>.json`) so that
/// `sbs renew` can repeat it.
public struct RenewalConfig: Codable, Sendable, Equatable {
    public var domains: [String]
    public var email: String?
    public var webroot: String
    public var directoryURL: String
    public var caBundle: String?
    public var profile: String?
    public var liveDirectory: String
    /// Where in the CA's ARI window this certificate renews (0…1), chosen once per certificate (at its first
    /// renewal check) and kept, so that one run does not find it due and the next not. A new issuance starts over.
    public var ariFraction: Double?

    public init(
        domains: [String], email: String?, webroot: String, directoryURL: String, caBundle: String?,
        profile: String?, liveDirectory: String
    ) {
        self.domains = domains
        self.email = email
        self.webroot = webroot
        self.directoryURL = directoryURL
        self.caBundle = caBundle
        self.profile = profile
        self.liveDirectory = liveDirectory
    }

    /// `renewal/NAME-HASH.json`: the live folder's name for people, and a hash of its whole path so that two
    /// folders of one name (`cert issue --out …/a/out` and `--out …/b/out`) keep settings of their own.
    static func path(accountDirectory: String, liveDirectory: String) -> String {
        let digest = SHA256.hash(data: Array(liveDirectory.utf8)).prefix(4).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
        return accountDirectory + "/renewal/" + FileIO.baseName(of: liveDirectory) + "-" + digest + ".json"
    }

    /// Where versions before the hash kept the settings (`renewal/NAME.json`).
    static func legacyPath(accountDirectory: String, liveDirectory: String) -> String {
        accountDirectory + "/renewal/" + FileIO.baseName(of: liveDirectory) + ".json"
    }

    /// The settings kept for `liveDirectory`, from its own file or, when written by an earlier version, from the
    /// file of its name if that one is about this very folder.
    /// - Throws: `ACMEError` (`.local`) when the file exists but cannot be read or parsed.
    public static func load(accountDirectory: String, liveDirectory: String) throws -> RenewalConfig? {
        if let config = try load(path: path(accountDirectory: accountDirectory, liveDirectory: liveDirectory)) {
            return config
        }
        let legacy = try load(path: legacyPath(accountDirectory: accountDirectory, liveDirectory: liveDirectory))
        return legacy?.liveDirectory == liveDirectory ? legacy : nil
    }

    /// Every certificate whose renewal settings are kept under `accountDirectory`, by live folder (one entry per
    /// folder: a settings file of the current form wins over a legacy one).
    /// - Throws: `ACMEError` (`.local`) naming a file that cannot be read or parsed.
    public static func all(accountDirectory: String) throws -> [RenewalConfig] {
        let folder = accountDirectory + "/renewal"
        var byLive: [String: (config: RenewalConfig, current: Bool)] = [:]
        for name in FileIO.list(folder) where name.hasSuffix(".json") {
            let file = folder + "/" + name
            guard let config = try load(path: file) else { continue }
            let current = file == path(accountDirectory: accountDirectory, liveDirectory: config.liveDirectory)
            if let existing = byLive[config.liveDirectory], existing.current && !current { continue }
            byLive[config.liveDirectory] = (config, current)
        }
        return byLive.values.map(\.config).sorted { $0.liveDirectory < $1.liveDirectory }
    }

    static func load(path: String) throws -> RenewalConfig? {
        guard let bytes = try FileIO.read(path, limit: .state, followingLinks: false) else { return nil }
        do { return try JSONDecoder().decode(RenewalConfig.self, from: Data(bytes)) } catch {
            throw ACMEError.local(
                "\(path) does not parse: \(error)", remedy: "Delete it and issue the certificate again.")
        }
    }

    func save(accountDirectory: String) throws {
        try FileIO.writeAtomically(
            try JSONEncoder.acme.encode(self).bytes,
            to: Self.path(accountDirectory: accountDirectory, liveDirectory: liveDirectory), mode: 0o600)
        // A legacy file about this folder is superseded.
        let legacy = Self.legacyPath(accountDirectory: accountDirectory, liveDirectory: liveDirectory)
        if (try? Self.load(path: legacy))?.liveDirectory == liveDirectory { FileIO.remove(legacy) }
    }
}
