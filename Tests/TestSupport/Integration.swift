import Foundation
import Testing

/// The one gate for tests that need a real tool or service (nginx, Pebble, docker compose, tmux, python3, a running
/// Docker engine…). Where it is missing the test is skipped with the reason; with SBS_REQUIRE_INTEGRATION=1 (CI)
/// the same test fails with that reason instead, so that a machine missing a tool cannot pass by skipping.
///
/// Declared on a test or suite with the trait `.requires("nginx", "openssl", install: "apt-get install -y nginx openssl")`
/// (or `.requires(_:when:)` for a condition other than tools on the search path); checked inside a test body with
/// `try Integration.require(…)` when the condition can only be known there (an engine that answers, a free port).
public enum Integration {
    /// Whether a missing tool fails the test (SBS_REQUIRE_INTEGRATION=1, as CI sets) rather than skipping it.
    public static var required: Bool { ProcessInfo.processInfo.environment["SBS_REQUIRE_INTEGRATION"] == "1" }

    /// Where tools are looked for: PATH, then the sbin folders (Debian puts nginx in /usr/sbin).
    public static var searchPath: [String] {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
            .map(String.init)
        return path
            + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"].filter {
                !path.contains($0)
            }
    }

    /// The executable `tool` names: itself when it is a path, else the first match on the search path.
    public static func path(of tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        return searchPath.lazy.map { $0 + "/" + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The tools of `tools` that are not installed, in the order given.
    public static func missing(_ tools: [String]) -> [String] { tools.filter { path(of: $0) == nil } }

    /// What to do about an unmet need: run (it is met), skip, or fail (it is not met and integration is required).
    public enum Decision: Equatable, Sendable { case run, skip, fail }

    public static func decide(available: Bool, required: Bool = Integration.required) -> Decision {
        available ? .run : required ? .fail : .skip
    }

    /// Thrown (after the reason was recorded as an issue) when a required tool or service is missing.
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The reason shown for missing `tools`: "needs nginx, openssl (apt-get install -y nginx openssl)".
    public static func reason(missing tools: [String], install: String?) -> String {
        "needs \(tools.joined(separator: ", "))" + (install.map { " (\($0))" } ?? "")
    }

    /// Goes on when `available`; otherwise skips the test with `reason`, or, with SBS_REQUIRE_INTEGRATION=1,
    /// records `reason` as a failure and throws.
    public static func require(_ available: Bool, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        switch decide(available: available) {
        case .run: return
        case .fail:
            Issue.record(
                Comment(rawValue: "\(reason); SBS_REQUIRE_INTEGRATION=1 requires it"), sourceLocation: sourceLocation)
            throw Unavailable(description: reason)
        case .skip:
            try Test.cancel(
                Comment(rawValue: "\(reason); set SBS_REQUIRE_INTEGRATION=1 to make this a failure"),
                sourceLocation: sourceLocation)
        }
    }

    /// Goes on when every tool of `tools` is installed (see `require(_:_:)` otherwise).
    public static func require(
        tools: String..., install: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let missing = missing(tools)
        try require(missing.isEmpty, reason(missing: missing, install: install), sourceLocation: sourceLocation)
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test (every test of the suite) only where `tools` are installed. Without them it is skipped with
    /// the reason, or, with SBS_REQUIRE_INTEGRATION=1, fails with it (the condition throws, which Swift Testing
    /// records as an issue of the test).
    public static func requires(
        _ tools: String..., install: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Self {
        let missing = Integration.missing(tools)
        return requires(
            Integration.reason(missing: missing, install: install), when: missing.isEmpty,
            sourceLocation: sourceLocation)
    }

    /// Runs the test only when `available` (evaluated when the test is about to run); skipped with `reason`
    /// otherwise, failed with it under SBS_REQUIRE_INTEGRATION=1.
    public static func requires(
        _ reason: String, when available: @autoclosure @escaping @Sendable () -> Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Self {
        .enabled(
            Comment(rawValue: "\(reason); set SBS_REQUIRE_INTEGRATION=1 to make this a failure"),
            sourceLocation: sourceLocation
        ) {
            switch Integration.decide(available: available()) {
            case .run: return true
            case .skip: return false
            case .fail: throw Integration.Unavailable(description: "\(reason); SBS_REQUIRE_INTEGRATION=1 requires it")
            }
        }
    }
}
