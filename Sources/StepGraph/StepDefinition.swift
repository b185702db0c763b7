import FoundationEssentials
import SBSCore

/// One step as declared in `steps/ID.yaml`.
public struct StepDefinition: Sendable, Equatable {
    public var id: String
    public var title: String
    public var needs: [String]
    /// The name of the code that does the step (`Installer` maps it to an action).
    public var action: String
    /// Run only when this holds; otherwise the step is skipped and its dependents go on.
    public var when: Condition?
    public var retry: RetryPolicy
    public var timeout: Duration?
    /// Where it was declared, for messages (`steps/preflight.yaml`), and the line of each field.
    public var file: String
    public var lines: [String: Int]

    public init(
        id: String, title: String, needs: [String] = [], action: String, when: Condition? = nil,
        retry: RetryPolicy = .none, timeout: Duration? = nil, file: String = "", lines: [String: Int] = [:]
    ) {
        self.id = id
        self.title = title
        self.needs = needs
        self.action = action
        self.when = when
        self.retry = retry
        self.timeout = timeout
        self.file = file
        self.lines = lines
    }

    /// `file:line` of a field, for messages.
    public func location(_ field: String) -> String {
        "\(file):\(lines[field] ?? lines["id"] ?? 1)"
    }

    /// The fields that change what the step does, as text for fingerprints, with the needs that order it
    /// (`Graph.orderingNeeds`).
    func fingerprintText(needs: [String]) -> String {
        var text = "id=\(id)\naction=\(action)\nneeds=\(needs.joined(separator: ","))\n"
        if let when { text += "when=\(when)\n" }
        return text
    }
}

/// How often a failed step is tried again, and how long to wait in between.
public struct RetryPolicy: Sendable, Equatable {
    public var attempts: Int
    public var delay: Duration

    public init(attempts: Int, delay: Duration) {
        self.attempts = attempts
        self.delay = delay
    }

    public static let none = RetryPolicy(attempts: 1, delay: .zero)
}

/// A condition on answers and detected facts: `KEY`, `!KEY`, `KEY == VALUE`, `KEY != VALUE`, joined by `&&`.
/// Keys are dotted names (`features.monitoring`, `choose-profile.ollama`); a missing key reads as empty, and a
/// bare `KEY` holds when the value is `true`.
public struct Condition: Sendable, Equatable, CustomStringConvertible {
    public enum Clause: Sendable, Equatable {
        case isTrue(String)
        case isFalse(String)
        case equals(String, String)
        case differs(String, String)
    }

    public var clauses: [Clause]

    public init(clauses: [Clause]) {
        self.clauses = clauses
    }

    /// Parses the text of a `when:` field.
    /// - Throws: a message saying which part could not be read.
    public init(parsing text: String) throws(UserError) {
        var clauses: [Clause] = []
        for part in text.split(separator: "&&", omittingEmptySubsequences: false) {
            let clause = part.trimmed
            if clause.isEmpty { throw UserError("empty condition in '\(text)'") }
            if let range = clause.firstRange(of: "!=") {
                clauses.append(
                    .differs(
                        try Condition.key(clause[..<range.lowerBound]), Condition.value(clause[range.upperBound...])))
            } else if let range = clause.firstRange(of: "==") {
                clauses.append(
                    .equals(
                        try Condition.key(clause[..<range.lowerBound]), Condition.value(clause[range.upperBound...])))
            } else if clause.hasPrefix("!") {
                clauses.append(.isFalse(try Condition.key(clause.dropFirst())))
            } else {
                clauses.append(.isTrue(try Condition.key(Substring(clause))))
            }
        }
        self.clauses = clauses
    }

    static func key(_ text: Substring) throws(UserError) -> String {
        let key = text.trimmed
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        if key.isEmpty || !key.allSatisfy({ allowed.contains($0) }) {
            throw UserError("'\(key)' is not a fact name (letters, digits, '.', '-' and '_')")
        }
        return key
    }

    static func value(_ text: Substring) -> String {
        var value = text.trimmed
        if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
            value = String(value.dropFirst().dropLast())
        }
        return value
    }

    /// The fact names the condition reads.
    public var keys: [String] {
        clauses.map { clause in
            switch clause {
            case .isTrue(let key), .isFalse(let key), .equals(let key, _), .differs(let key, _): return key
            }
        }
    }

    public func holds(in facts: [String: String]) -> Bool {
        clauses.allSatisfy { clause in
            switch clause {
            case .isTrue(let key): return facts[key] == "true"
            case .isFalse(let key): return facts[key] != "true"
            case .equals(let key, let value): return (facts[key] ?? "") == value
            case .differs(let key, let value): return (facts[key] ?? "") != value
            }
        }
    }

    public var description: String {
        clauses.map { clause in
            switch clause {
            case .isTrue(let key): return key
            case .isFalse(let key): return "!\(key)"
            case .equals(let key, let value): return "\(key) == \(value)"
            case .differs(let key, let value): return "\(key) != \(value)"
            }
        }.joined(separator: " && ")
    }
}

/// Reads `30s`, `5m`, `1h`, `250ms` or a bare number of seconds.
public func parseDuration(_ text: String) -> Duration? {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    let trimmed = text.trimmed
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
        guard let number = Double(trimmed.dropLast(suffix.count)), number >= 0 else { return nil }
        return .milliseconds(Int64((number * scale * 1000).rounded()))
    }
    guard let seconds = Double(trimmed), seconds >= 0 else { return nil }
    return .milliseconds(Int64((seconds * 1000).rounded()))
}
