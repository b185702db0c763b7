import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import FoundationEssentials
#endif

/// HS256 JSON Web Tokens as Supabase reads them: signed with the JWT secret's *text* (its UTF-8 bytes) as the
/// HMAC-SHA256 key, the way GoTrue and PostgREST use `JWT_SECRET`.
public enum SupabaseJWT {
    /// The claims sbs writes and checks.
    public struct Claims: Codable, Sendable, Equatable {
        public var role: String
        public var iss: String
        public var iat: Int64
        public var exp: Int64

        public init(role: String, iss: String = "supabase", iat: Int64, exp: Int64) {
            self.role = role
            self.iss = iss
            self.iat = iat
            self.exp = exp
        }
    }

    /// `header.payload.signature`, with a fixed member order so the same claims give the same token.
    public static func sign(_ claims: Claims, secret: String) -> String {
        let header = #"{"alg":"HS256","typ":"JWT"}"#
        let payload = #"{"role":"\#(claims.role)","iss":"\#(claims.iss)","iat":\#(claims.iat),"exp":\#(claims.exp)}"#
        let signingInput = base64URL(Array(header.utf8)) + "." + base64URL(Array(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array(signingInput.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return signingInput + "." + base64URL(Array(mac))
    }

    /// The claims when the token is an HS256 JWT whose signature verifies with `secret`; nil otherwise.
    /// The comparison is constant-time (`HMAC.isValidAuthenticationCode`).
    public static func verify(_ token: String, secret: String) -> Claims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = decodeBase64URL(String(parts[0])),
            let payloadBytes = decodeBase64URL(String(parts[1])),
            let signature = decodeBase64URL(String(parts[2]))
        else { return nil }
        guard let header = try? JSONDecoder().decode([String: String].self, from: Data(headerBytes)),
            header["alg"] == "HS256"
        else { return nil }
        let signingInput = Array((parts[0] + "." + parts[1]).utf8)
        guard
            HMAC<SHA256>.isValidAuthenticationCode(
                signature, authenticating: signingInput,
                using: SymmetricKey(data: Array(secret.utf8)))
        else { return nil }
        return try? JSONDecoder().decode(Claims.self, from: Data(payloadBytes))
    }

    public static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacing("+", with: "-").replacing("/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    public static func decodeBase64URL(_ text: String) -> [UInt8]? {
        var standard = text.replacing("-", with: "+").replacing("_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map { Array($0) }
    }
}

/// Random text from the system's CSPRNG (`SystemRandomNumberGenerator`: getrandom(2) on Linux).
public enum RandomToken {
    static let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// `length` letters and digits, uniformly drawn: safe in URLs, YAML, nginx and `.env` without quoting.
    public static func alphanumeric(_ length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for _ in 0..<length {
            bytes.append(alphanumerics[Int(generator.next(upperBound: UInt64(alphanumerics.count)))])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
