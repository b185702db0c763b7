import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Time as the ACME client sees it: the wall clock (for HTTP-dates, certificate lifetimes, rate-limit
/// deadlines) and waiting. Injected so that backoff, polling and Retry-After are tested without sleeping.
public protocol ACMEClock: Sendable {
    var now: Date { get }
    /// Waits `duration`.
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    func sleep(for duration: Duration) async throws
}

/// The real clock.
public struct SystemACMEClock: ACMEClock {
    public init() {}
    public var now: Date { Date() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// Parsing of the `Retry-After` header (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date.
public enum RetryAfter {
    /// How long to wait according to `value`, measured from `now`; zero for a date in the past; nil when
    /// the value is neither form.
    public static func delay(_ value: String, now: Date) -> Duration? {
        let text = value.trimmed
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard let seconds = Int64(text) else { return .seconds(Int64.max / 1_000_000_000_000) }
            return .seconds(seconds)
        }
        guard let date = HTTPDate.parse(text) else { return nil }
        let interval = date.timeIntervalSince(now)
        return interval <= 0 ? .zero : .milliseconds(Int64((interval * 1000).rounded(.up)))
    }
}

/// HTTP-date (RFC 9110 section 5.6.7) in its three forms: IMF-fixdate, the obsolete RFC 850 form and asctime.
public enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    public static func parse(_ text: String) -> Date? {
        let parts = text.trimmed.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT  → [Sun, 06, Nov, 1994, 08:49:37, GMT]
        if parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let month = month(parts[2]),
            let year = Int(parts[3])
        {
            return make(year: year, month: month, day: day, time: parts[4])
        }
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT  → [Sunday, 06-Nov-94, 08:49:37, GMT]
        if parts.count == 4, parts[3] == "GMT" {
            let dateParts = parts[1].split(separator: "-").map(String.init)
            if dateParts.count == 3, let day = Int(dateParts[0]), let month = month(dateParts[1]),
                let shortYear = Int(dateParts[2])
            {
                // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
                let year = shortYear < 100 ? (shortYear >= 70 ? 1900 + shortYear : 2000 + shortYear) : shortYear
                return make(year: year, month: month, day: day, time: parts[2])
            }
        }
        // asctime: Sun Nov  6 08:49:37 1994  → [Sun, Nov, 6, 08:49:37, 1994]
        if parts.count == 5, let month = month(parts[1]), let day = Int(parts[2]), let year = Int(parts[4]) {
            return make(year: year, month: month, day: day, time: parts[3])
        }
        return nil
    }

    /// IMF-fixdate of `date`.
    public static func format(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let month = months[Int(parts.tm_mon)].prefix(1).uppercased() + months[Int(parts.tm_mon)].dropFirst()
        return "\(days[Int(parts.tm_wday)]), \(pad(parts.tm_mday)) \(month) \(parts.tm_year + 1900) "
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)) GMT"
    }

    private static func pad(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func month(_ name: String) -> Int? {
        months.firstIndex(of: name.lowercased()).map { $0 + 1 }
    }

    private static func make(year: Int, month: Int, day: Int, time: String) -> Date? {
        let clock = time.split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (1...31).contains(day), (0...23).contains(clock[0]), (0...59).contains(clock[1]),
            (0...60).contains(clock[2])
        else { return nil }
        return utcDate(year: year, month: month, day: day, hour: clock[0], minute: clock[1], second: Double(clock[2]))
    }
}

/// RFC 3339 timestamps as ACME uses them (`expires`, ARI `suggestedWindow`): `2025-01-02T04:00:00Z`,
/// with optional fractional seconds and a numeric offset; read and written by FoundationEssentials' ISO 8601 style.
public enum RFC3339 {
    private static let whole = Date.ISO8601FormatStyle()
    private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public static func parse(_ text: String) -> Date? {
        // RFC 3339 (section 5.6, note) allows a lower-case "t" and "z", and a space for the "T".
        var chars = Array(text.trimmed.uppercased())
        if chars.count > 10, chars[10] == " " { chars[10] = "T" }
        let normal = String(chars)
        return (try? whole.parse(normal)) ?? (try? fractional.parse(normal))
    }

    public static func format(_ date: Date) -> String {
        whole.format(Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
    }
}

/// A UTC calendar date as a `Date`, computed without a calendar library (days from civil, H. Hinnant).
func utcDate(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Double) -> Date? {
    guard (1...12).contains(month), (1...31).contains(day) else { return nil }
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146097 + doe - 719468
    let seconds = Double(days * 86400 + hour * 3600 + minute * 60) + second
    return Date(timeIntervalSince1970: seconds)
}
