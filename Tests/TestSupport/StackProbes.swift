import Deploy
import Processes
import SBSCore
import Testing
import Verify

/// A stack probe with fixed containers and fixed command results by service and argv. It fails closed: an exec it
/// has no answer for records a test failure and throws.
public struct FixedProbe: StackProbe {
    public var list: Result<[ComposeContainer], UserError>
    public var results: [String: CommandResult]
    private let sourceLocation: SourceLocation

    public init(
        list: Result<[ComposeContainer], UserError>, results: [String: CommandResult],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        self.list = list
        self.results = results
        self.sourceLocation = sourceLocation
    }

    public func containers() async throws(UserError) -> [ComposeContainer] { try list.get() }

    public func exec(_ service: String, _ argv: [String]) async throws(UserError) -> CommandResult {
        let key = ([service] + argv).joined(separator: " ")
        guard let result = results[key] else {
            Issue.record("unexpected exec \(key)", sourceLocation: sourceLocation)
            throw UserError("unexpected exec in test: \(key)")
        }
        return result
    }
}
