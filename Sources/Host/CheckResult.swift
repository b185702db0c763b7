import SBSCore

/// The outcome of one preflight or DNS check, in the shape `sbs verify --json` also uses.
public struct CheckResult: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case pass, warn, fail, skip
    }

    /// Stable id, such as `root`, `os`, `port-http`, `disk`, `clock`, `package-lock`, `dns`.
    public var id: String
    public var status: Status
    /// What was found, in a sentence or two.
    public var detail: String
    /// What to do about a failure or warning.
    public var remedy: String?

    public init(id: String, status: Status, detail: String, remedy: String? = nil) {
        self.id = id
        self.status = status
        self.detail = detail
        self.remedy = remedy
    }

    /// The check as the error a failed step reports.
    public var userError: UserError { UserError(detail, remedy: remedy) }
}
