import FoundationEssentials

/// base64url without padding (RFC 7515 section 2), the encoding of every binary field in ACME.
public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacing("+", with: "-").replacing("/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    public static func encode(_ text: String) -> String { encode(Array(text.utf8)) }

    /// The bytes, or nil when `text` is not base64url (padding tolerated).
    public static func decode(_ text: String) -> [UInt8]? {
        var standard = text.replacing("-", with: "+").replacing("_", with: "/")
        while standard.hasSuffix("=") { standard.removeLast() }
        while standard.count % 4 != 0 { standard.append("=") }
        guard let data = Data(base64Encoded: standard) else { return nil }
        return Array(data)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line breaks.
    var trimmed: String {
        // Character.isWhitespace covers "\r\n", which is one Character (a grapheme cluster), not two.
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

enum Hex {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef")
        var text = ""
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return text
    }
}

/// The PEM blocks of one kind in `text`, in order, each with its BEGIN and END lines and a final newline.
func pemBlocks(in text: String, label: String = "CERTIFICATE") -> [String] {
    let begin = "-----BEGIN \(label)-----"
    let end = "-----END \(label)-----"
    var blocks: [String] = []
    var current: [String]? = nil
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
        let line = rawLine.trimmed
        if line == begin {
            current = [line]
        } else if line == end, var lines = current {
            lines.append(line)
            blocks.append(lines.joined(separator: "\n") + "\n")
            current = nil
        } else if !line.isEmpty {
            current?.append(line)
        }
    }
    return blocks
}

extension JSONEncoder {
    /// Sorted keys so that what is signed and what tests compare is stable.
    static var acme: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
