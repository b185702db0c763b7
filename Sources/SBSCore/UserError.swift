/// The one error a user sees: what failed, and what to do next.
public struct UserError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var remedy: String?

    public init(_ message: String, remedy: String? = nil) {
        self.message = message
        self.remedy = remedy
    }

    public var description: String {
        guard let remedy else { return message }
        return "\(message)\n  → \(remedy)"
    }
}
