/// The one error a user sees: what failed, and what to do next.
public struct UserError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var remedy: String?
    /// The exit status sbs ends with when this error ends a command: 1, or `refusedStatus` when another run holds
    /// what this one needs.
    public var exitStatus: Int32

    public init(_ message: String, remedy: String? = nil) {
        self.message = message
        self.remedy = remedy
        exitStatus = 1
    }

    /// 75 (EX_TEMPFAIL): refused because another run holds the lock; trying again later can work.
    public static let refusedStatus: Int32 = 75

    /// Another run holds a lock this one needs (exit status 75).
    public static func refused(_ message: String, remedy: String? = nil) -> UserError {
        var error = UserError(message, remedy: remedy)
        error.exitStatus = refusedStatus
        return error
    }

    public var description: String {
        guard let remedy else { return message }
        return "\(message)\n  → \(remedy)"
    }
}
