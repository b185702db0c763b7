import FoundationEssentials

/// A JSON string literal for `text`, as JSONEncoder writes it (slashes left as they are). It is also a valid
/// double-quoted YAML scalar (YAML reads JSON's escapes).
public func jsonString(_ text: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    // Encoding a String cannot fail: every String is valid Unicode.
    guard let bytes = try? encoder.encode(text) else { preconditionFailure("JSONEncoder refused a String") }
    return String(decoding: bytes, as: UTF8.self)
}
