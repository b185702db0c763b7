/// The outcome of one check: a preflight or DNS check, or a check of `sbs verify`. A stable kebab-case id, how it
/// came out, what was seen, and for a failure (or warning) what to do next. Every key is always written
/// (`"remedy": null` when there is none), so readers of the JSON see one shape.
public struct CheckResult: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case pass, warn, fail, skip
    }

    /// Stable id, such as `root`, `port-http`, `dns`, `https-redirect`, `containers-healthy`.
    public var id: String
    public var status: Status
    /// What was seen: values, status codes, days left, container names; for a skip, why it did not apply.
    public var detail: String
    /// What to do about a failure or warning; nil otherwise.
    public var remedy: String?

    public init(id: String, status: Status, detail: String, remedy: String? = nil) {
        self.id = id
        self.status = status
        self.detail = detail
        self.remedy = remedy
    }

    public static func pass(_ id: String, _ detail: String) -> CheckResult {
        CheckResult(id: id, status: .pass, detail: detail)
    }
    public static func skip(_ id: String, _ detail: String) -> CheckResult {
        CheckResult(id: id, status: .skip, detail: detail)
    }
    public static func fail(_ id: String, _ detail: String, remedy: String) -> CheckResult {
        CheckResult(id: id, status: .fail, detail: detail, remedy: remedy)
    }

    /// The check as the error a failed step reports.
    public var userError: UserError { UserError(detail, remedy: remedy) }

    enum CodingKeys: String, CodingKey { case id, status, detail, remedy }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(status, forKey: .status)
        try container.encode(detail, forKey: .detail)
        try container.encode(remedy, forKey: .remedy)
    }
}
