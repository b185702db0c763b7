import Processes
import SBSCore
import Synchronization
import Testing

/// A command runner that plays a script of recorded exchanges: each command it expects (its argv, matched
/// exactly) with the exit status and output it gives. It fails closed: a command that is not in the script, or
/// one asked more often than the script answers it, records a test failure (where the runner was made) and
/// throws, so nothing unexpected ever looks like a success.
///
/// The same argv may appear several times: its replies are given in order. A reply marked `repeating` answers every
/// later call too (a poll asks the same thing many times). A reply can also change what another command answers
/// from then on (`changing(_:to:)`): after `up`, `ps` lists the started containers.
public final class ScriptedRunner: CommandRunner {
    public struct Reply: Sendable {
        public var result: CommandResult
        /// Given again for every later call of the same argv.
        public var repeats = false
        /// Once this reply was given, these argvs answer with these replies instead of what they had left.
        public var changes: [Change] = []

        public struct Change: Sendable {
            public var argv: [String]
            public var replies: [Reply]
        }

        public init(_ result: CommandResult) { self.result = result }

        /// Exit status 0 with `stdout`.
        public static func ok(_ stdout: String = "", stderr: String = "") -> Reply {
            Reply(CommandResult(status: 0, stdout: stdout, stderr: stderr))
        }

        /// A non-zero exit with what the command printed.
        public static func exit(_ status: Int32, stderr: String, stdout: String = "") -> Reply {
            Reply(CommandResult(status: status, stdout: stdout, stderr: stderr))
        }

        /// Killed at its timeout, with what it had printed.
        public static func timedOut(stderr: String = "", stdout: String = "") -> Reply {
            Reply(CommandResult(status: 137, stdout: stdout, stderr: stderr, timedOut: true))
        }

        /// This reply for this and every later call.
        public var repeating: Reply {
            var reply = self
            reply.repeats = true
            return reply
        }

        /// This reply, after which `argv` answers `replies` (in order) instead of what it had left.
        public func changing(_ argv: [String], to replies: Reply...) -> Reply {
            var reply = self
            reply.changes.append(Change(argv: argv, replies: replies))
            return reply
        }
    }

    private struct State {
        var pending: [[String]: [Reply]] = [:]
        var order: [[String]] = []
        var calls: [[String]] = []
    }

    private let state: Mutex<State>
    private let sourceLocation: SourceLocation

    public init(_ script: KeyValuePairs<[String], Reply>, sourceLocation: SourceLocation = #_sourceLocation) {
        var state = State()
        for (argv, reply) in script {
            if state.pending[argv] == nil { state.order.append(argv) }
            state.pending[argv, default: []].append(reply)
        }
        self.state = Mutex(state)
        self.sourceLocation = sourceLocation
    }

    /// Every command run so far, in order.
    public var calls: [[String]] { state.withLock { $0.calls } }

    /// The commands whose scripted replies were not all asked for (repeating replies excepted), in script order.
    public var unused: [[String]] {
        state.withLock { state in state.order.filter { argv in state.pending[argv]?.contains { !$0.repeats } == true } }
    }

    public func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult {
        let reply: Reply? = state.withLock { state in
            state.calls.append(argv)
            guard var replies = state.pending[argv], let first = replies.first else { return nil }
            if !first.repeats { replies.removeFirst() }
            state.pending[argv] = replies
            for change in first.changes {
                if state.pending[change.argv] == nil { state.order.append(change.argv) }
                state.pending[change.argv] = change.replies
            }
            return first
        }
        guard let reply else {
            let scripted = state.withLock { $0.order.contains(argv) }
            Issue.record(
                "\(scripted ? "one call too many" : "unexpected command"): \(argv.joined(separator: " "))",
                sourceLocation: sourceLocation)
            throw UserError("The test's script has no answer for \(argv.joined(separator: " ")).")
        }
        return reply.result
    }
}

/// A command runner for code that must run no command: any call records a test failure and throws.
public struct RefusingRunner: CommandRunner {
    private let sourceLocation: SourceLocation

    public init(sourceLocation: SourceLocation = #_sourceLocation) { self.sourceLocation = sourceLocation }

    public func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult {
        Issue.record("no command was expected: \(argv.joined(separator: " "))", sourceLocation: sourceLocation)
        throw UserError("The test expects no command, and \(argv.joined(separator: " ")) was run.")
    }
}
