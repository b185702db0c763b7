/// The rules every secret value meets, wherever it comes from (an answers file, `env:`, `file:`, the wizard, a
/// generator): exactly the bytes given, never transformed, and storable in `secrets.env` and the deploy `.env`
/// (single-quoted there) without escaping.
public enum SecretText {
    /// Shorter secrets cannot be redacted from logs without garbling other text.
    public static let minimumLength = 8
    public static let maximumLength = 4096

    /// - Throws: `UserError` saying which rule the value breaks (never showing the value).
    public static func validate(_ value: String) throws(UserError) {
        let count = value.utf8.count
        if count == 0 { throw UserError("the secret is empty") }
        if count < minimumLength {
            throw UserError(
                "the secret is shorter than \(minimumLength) characters",
                remedy: "Use the full key or a longer password.")
        }
        if count > maximumLength { throw UserError("the secret is longer than \(maximumLength) bytes") }
        if value.unicodeScalars.contains(where: {
            $0.value < 0x20 || $0.value == 0x7f || (0x80..<0xa0).contains($0.value)
        }) {
            throw UserError(
                "the secret contains a line break or another control character",
                remedy: "Give the value on one line, without control characters.")
        }
        if value.contains("'") || value.contains("\"") {
            throw UserError(
                "the secret contains a quote, which the .env file cannot carry",
                remedy: "Choose a value without quotes.")
        }
        if value.hasSuffix("\\") {
            throw UserError(
                "the secret ends with a backslash, which the .env file cannot carry",
                remedy: "Choose a value that does not end with \\.")
        }
    }

    /// Decodes bytes as a secret: valid UTF-8, then `validate`.
    /// - Throws: `UserError` for invalid UTF-8 (never replaced silently) or a broken rule.
    public static func decode(_ bytes: [UInt8]) throws(UserError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw UserError("the secret is not valid UTF-8 text")
        }
        try validate(text)
        return text
    }
}
