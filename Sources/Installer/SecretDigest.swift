import Crypto
import FoundationEssentials
import SBSCore
import StepGraph
import Wizard

/// A secret as a step Input may hold it: an HMAC-SHA256 keyed by this installation's fingerprint key. A changed
/// secret changes the digest (and so re-runs the steps that use it); `state.json` learns nothing of its value.
public struct KeyedDigest: Codable, Hashable, Sendable, CustomStringConvertible {
    public let hex: String
    public var description: String { "hmac:" + hex }
}

/// Makes `KeyedDigest`s with the key kept in `<root>/var/lib/sbs/fingerprint.key` (0600).
public struct SecretDigester: Sendable {
    let key: [UInt8]

    /// The installation's key. With `create`, a missing key is made (a run, under its lock); without (`sbs plan`,
    /// `sbs status`, which write nothing), a missing key is replaced by a throw-away one, so every digest reads
    /// as changed, which is true: nothing can have been recorded with a key that does not exist.
    /// - Throws: `UserError` when the key file cannot be read or written.
    public static func load(_ layout: Layout, create: Bool) throws(UserError) -> SecretDigester {
        let path = layout.stateDir + "/fingerprint.key"
        if let bytes = try AtomicFile.read(path, limit: .key, followingLinks: false), bytes.count == 32 {
            return SecretDigester(key: bytes)
        }
        let bytes = RandomBytes.make(32)
        if create { try AtomicFile.write(bytes, to: path, mode: 0o600) }
        return SecretDigester(key: bytes)
    }

    public func digest(_ value: String) -> KeyedDigest { digest(Array(value.utf8)) }

    public func digest(_ bytes: [UInt8]) -> KeyedDigest {
        KeyedDigest(hex: HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: key)).hex)
    }

    /// One digest for several named secrets (order-independent, names included).
    public func digest(_ values: [String: String]) -> KeyedDigest {
        var text = ""
        for (name, value) in values.sorted(by: { $0.key < $1.key }) { text += "\(name)=\(digest(value).hex)\n" }
        return digest(text)
    }

    /// A product file's digest as it is now, nil when missing: sha256 of the bytes, or an HMAC for a secret file.
    public func product(_ file: ProductFile) -> String? {
        guard let bytes = try? AtomicFile.read(file.path, limit: .config) else { return nil }
        return file.secret ? "hmac:" + digest(bytes).hex : "sha256:" + SHA256.hash(data: bytes).hex
    }
}

enum RandomBytes {
    static func make(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
