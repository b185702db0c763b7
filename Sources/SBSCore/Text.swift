/// The few text operations sbs needs beyond the standard library, written here so the product needs only
/// FoundationEssentials (Foundation's versions of these bring ICU into the binary).

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line breaks.
    public var trimmed: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }

    /// Left-aligned in a column `width` characters wide: padded with spaces, never cut.
    public func padded(to width: Int) -> String {
        count >= width ? String(self) : String(self) + String(repeating: " ", count: width - count)
    }

    /// Right-aligned in a column `width` characters wide: padded with spaces in front, never cut.
    public func leftPadded(to width: Int) -> String {
        count >= width ? String(self) : String(repeating: " ", count: width - count) + String(self)
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits a byte.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// `value` with `digits` digits after the point, rounded half away from zero: `decimal(2.25)` is "2.3".
public func decimal(_ value: Double, digits: Int = 1) -> String {
    guard value.isFinite else { return String(value) }
    var scale = 1.0
    for _ in 0..<max(0, digits) { scale *= 10 }
    let scaled = (abs(value) * scale).rounded(.toNearestOrAwayFromZero)
    guard scaled < 9e15 else { return String(value) }
    let whole = Int64(scaled)
    let unit = Int64(scale)
    let sign = value < 0 && whole != 0 ? "-" : ""
    guard digits > 0 else { return sign + String(whole) }
    let fraction = String(whole % unit)
    return sign + String(whole / unit) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
}

extension String {
    /// The last `count` non-empty lines, joined with " | " (for error messages quoting a command's output).
    public func lastLines(_ count: Int) -> String {
        split(separator: "\n").map { $0.trimmed }.filter { !$0.isEmpty }
            .suffix(count).joined(separator: " | ")
    }
}
