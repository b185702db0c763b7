/// How long the monitoring waits before it tells a person (answers `alerts.down_for` and `alerts.group_interval`),
/// in whole seconds, written as Prometheus and Alertmanager read durations (`20s`, `5m`, `1h`).
public struct AlertTimings: Sendable, Hashable, Codable {
    /// How long a service, a scrape target or a site address must be down before its alert fires (the `for:` of
    /// TargetDown, SiteDown, ServiceNotRunning and ServiceUnhealthy).
    public var downFor: Int
    /// Alertmanager's `group_interval`: after a notification, how long the next one about the same alert waits
    /// (another instance failing, or the resolution).
    public var groupInterval: Int

    public init(downFor: Int, groupInterval: Int) {
        self.downFor = downFor
        self.groupInterval = groupInterval
    }

    /// Five minutes each: long enough that a restart or a deployment is no alert, short enough for a small office.
    public static let standard = AlertTimings(downFor: 300, groupInterval: 300)

    /// What either may be: ten seconds to an hour.
    public static let allowed = 10...3600

    /// `N`s, `N`m or `N`h as seconds.
    /// - Throws: `UserError` when the text is no such duration or is outside `allowed`.
    public static func seconds(_ text: String) throws(UserError) -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
        guard let unit = text.last.flatMap({ units[$0] }), let number = Int(text.dropLast()),
            text.dropLast().allSatisfy(\.isASCII), text.first?.isNumber == true
        else {
            throw UserError(
                "'\(text.debugSafe)' is not a duration (write it as 30s, 5m or 1h)",
                remedy: "Write it as 30s, 5m or 1h.")
        }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: unit)
        guard !overflow, allowed.contains(seconds) else {
            throw UserError("\(text.debugSafe) is outside 10s to 1h", remedy: "Give a duration from 10s to 1h.")
        }
        return seconds
    }

    /// `seconds` in its shortest exact form (`300` → `5m`, `90` → `90s`).
    public static func text(_ seconds: Int) -> String {
        if seconds > 0, seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds > 0, seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
