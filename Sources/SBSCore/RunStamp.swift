import FoundationEssentials

/// The id of a backup run, a restore or a set of kept configuration files: the UTC time to the second,
/// `20261205T031500Z`. Ids sort as their times do, and name the same instant on every server.
public enum RunStamp {
    /// The id of `date`.
    public static func make(_ date: Date = Date()) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).dateSeparator(.omitted).timeSeparator(.omitted))
    }

    /// The time an id names; nil when it is not one. Read by hand: Foundation's ISO 8601 parser accepts trailing
    /// text, and an id with more after it is not an id.
    public static func date(_ id: String) -> Date? {
        let digits = Array(id.utf8)
        guard digits.count == 16, digits[8] == UInt8(ascii: "T"), digits[15] == UInt8(ascii: "Z") else {
            return nil
        }
        func number(_ range: Range<Int>) -> Int? {
            guard digits[range].allSatisfy({ (48...57).contains($0) }) else { return nil }
            return Int(String(decoding: digits[range], as: UTF8.self))
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
            let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }
}
