import Crypto
import FoundationEssentials
import SBSCore

/// The public half of an EC key as a JSON Web Key (RFC 7517), and its RFC 7638 thumbprint.
public struct ECPublicJWK: Codable, Sendable, Equatable {
    public var crv: String
    public var kty = "EC"
    public var x: String
    public var y: String

    public init(crv: String, x: String, y: String) {
        self.crv = crv
        self.x = x
        self.y = y
    }

    public init(_ key: P256.Signing.PublicKey) {
        // x963 is 0x04 || X || Y, 32 bytes each for P-256.
        let raw = Array(key.x963Representation)
        self.init(crv: "P-256", x: Base64URL.encode(raw[1...32]), y: Base64URL.encode(raw[33...64]))
    }

    /// RFC 7638: the required members only, in lexicographic order, no whitespace. This exact text is also
    /// what goes into the JWS `jwk` header, so both sides hash the same bytes.
    public var canonicalJSON: String { compactJSON(self) }

    /// base64url(SHA-256(canonical JSON)).
    public var thumbprint: String { Base64URL.encode(SHA256.hash(data: Array(canonicalJSON.utf8))) }
}

/// An RSA public key as a JWK, only to check the RFC 7638 example (whose key is RSA) byte for byte.
public struct RSAPublicJWK: Sendable, Equatable {
    public var e: String
    public var n: String
    public init(e: String, n: String) {
        self.e = e
        self.n = n
    }
    public var canonicalJSON: String { #"{"e":"\#(e)","kty":"RSA","n":"\#(n)"}"# }
    public var thumbprint: String { Base64URL.encode(SHA256.hash(data: Array(canonicalJSON.utf8))) }
}

/// The protected header of sbs's JWSs (RFC 8555 section 6.2): `jwk` or `kid`, and `nonce` where one is sent.
struct ProtectedHeader: Encodable {
    var alg: String
    var jwk: ECPublicJWK?
    var kid: String?
    var nonce: String?
    var url: String
}

/// `value` as JSON without whitespace, its keys sorted (RFC 7638's canonical form for a JWK), slashes as they are.
func compactJSON(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // sbs's headers and keys hold strings only, which always encode.
    guard let bytes = try? encoder.encode(value) else { preconditionFailure("JSONEncoder refused \(type(of: value))") }
    return String(decoding: bytes, as: UTF8.self)
}

/// HTTP-01 key authorization (RFC 8555 section 8.1): token "." thumbprint of the account key.
public func keyAuthorization(token: String, accountKey: ECPublicJWK) -> String {
    token + "." + accountKey.thumbprint
}

/// A JWS in the flattened JSON serialization, the body of every ACME POST (RFC 8555 section 6.2).
public struct FlattenedJWS: Codable, Sendable, Equatable {
    public var protected: String
    public var payload: String
    public var signature: String

    /// Signs with ES256. `payload` nil means POST-as-GET (the empty string as payload).
    /// - Parameters:
    ///   - keyID: the account URL (`kid`); nil puts the public key itself in the header (`jwk`), which RFC 8555
    ///     allows for newAccount (and revocation by certificate key) only.
    /// - Throws: what the signing key throws (CryptoKit errors; not expected for a valid P-256 key).
    public static func sign(
        payload: [UInt8]?, url: String, nonce: String?, keyID: String?, key: P256.Signing.PrivateKey
    ) throws -> FlattenedJWS {
        let header = ProtectedHeader(
            alg: "ES256", jwk: keyID == nil ? ECPublicJWK(key.publicKey) : nil, kid: keyID,
            nonce: nonce, url: url)
        let protected = Base64URL.encode(compactJSON(header))
        let encodedPayload = payload.map { Base64URL.encode($0) } ?? ""
        let signingInput = Array((protected + "." + encodedPayload).utf8)
        // ES256 signatures are the raw 64-byte r || s (RFC 7518 section 3.4), not DER.
        let signature = try key.signature(for: signingInput).rawRepresentation
        return FlattenedJWS(protected: protected, payload: encodedPayload, signature: Base64URL.encode(signature))
    }

    /// The External Account Binding (RFC 8555 section 7.3.4): the account's JWK signed with HS256 under the
    /// CA-issued MAC key.
    public static func externalAccountBinding(
        accountKey: P256.Signing.PublicKey, keyID: String, macKey: [UInt8], url: String
    ) -> FlattenedJWS {
        let header = ProtectedHeader(alg: "HS256", jwk: nil, kid: keyID, nonce: nil, url: url)
        let protected = Base64URL.encode(compactJSON(header))
        let payload = Base64URL.encode(ECPublicJWK(accountKey).canonicalJSON)
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array((protected + "." + payload).utf8), using: SymmetricKey(data: macKey))
        return FlattenedJWS(protected: protected, payload: payload, signature: Base64URL.encode(mac))
    }

    /// The protected header, decoded.
    public var protectedHeader: [String: JSONValue]? {
        guard let bytes = Base64URL.decode(protected) else { return nil }
        return try? JSONDecoder().decode([String: JSONValue].self, from: Data(bytes))
    }

    /// Whether the signature verifies under `key` (used by tests and as a self-check).
    public func verifies(with key: P256.Signing.PublicKey) -> Bool {
        guard let raw = Base64URL.decode(signature),
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: raw)
        else { return false }
        return key.isValidSignature(signature, for: Array((protected + "." + payload).utf8))
    }

    public func encoded() -> [UInt8] {
        Array(#"{"protected":"\#(protected)","payload":"\#(payload)","signature":"\#(signature)"}"#.utf8)
    }
}
