import SBSCore

/// One problem found in a YAML file, with its position (1-based line and column).
public struct YAMLProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Reads a YAML document while collecting every problem, each with its position, instead of stopping at the
/// first. Used for the answers file, the step files and the profiles table.
public final class YAMLReader {
    public let file: String
    public private(set) var problems: [YAMLProblem] = []

    public init(file: String) {
        self.file = file
    }

    /// Parses `text`; a syntax error (or an empty file) is recorded with its line and column and nil returned.
    public func parse(_ text: String) -> YAMLNode? {
        do {
            guard let node = try YAMLNode.parse(text) else {
                report(line: 1, column: 1, "the file is empty")
                return nil
            }
            return node
        } catch {
            report(line: error.line, column: error.column, "YAML syntax error: \(error.message)")
            return nil
        }
    }

    public func report(_ node: YAMLNode?, _ message: String) {
        report(line: node?.mark.line ?? 1, column: node?.mark.column ?? 1, message)
    }

    public func report(line: Int, column: Int, _ message: String) {
        problems.append(YAMLProblem(file: file, line: line, column: column, message: message))
    }

    /// The entries of a mapping node keyed by their text, reporting a non-mapping node and every key not in
    /// `allowed` (with the nearest allowed key as a suggestion). `path` names the mapping in messages.
    public func mapping(_ node: YAMLNode, path: String, allowed: [String]) -> [String: YAMLNode] {
        guard case let .mapping(mapping) = node else {
            report(node, "\(path.isEmpty ? "the document" : "'\(path)'") must be a mapping of keys to values")
            return [:]
        }
        var result: [String: YAMLNode] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                report(keyNode, "keys must be text")
                continue
            }
            let full = path.isEmpty ? key : "\(path).\(key)"
            if !allowed.contains(key) {
                var message = "unknown key '\(full)'"
                if let near = YAMLReader.nearest(key, in: allowed) {
                    message += " (did you mean '\(path.isEmpty ? near : "\(path).\(near)")'?)"
                } else {
                    message += " (known here: \(allowed.joined(separator: ", ")))"
                }
                report(keyNode, message)
                continue
            }
            result[key] = value
        }
        return result
    }

    /// The text of a scalar, or nil with a problem reported for a mapping or a list.
    public func string(_ node: YAMLNode, path: String) -> String? {
        guard case let .scalar(scalar) = node else {
            report(node, "'\(path)' must be a single value, not a list or mapping")
            return nil
        }
        return scalar.string
    }

    /// A scalar that holds a whole number.
    public func int(_ node: YAMLNode, path: String) -> Int? {
        guard let text = string(node, path: path) else { return nil }
        guard let value = Int(text) else {
            report(node, "'\(path)' must be a whole number, not '\(text.debugSafe)'")
            return nil
        }
        return value
    }

    /// A plain scalar that holds a number, whole or decimal (`1`, `0.25`, `1e3`: the YAML 1.2 core schema).
    public func number(_ node: YAMLNode, path: String) -> Double? {
        guard let text = string(node, path: path) else { return nil }
        switch node.scalar?.value {
        case .int(let value)?: return Double(value)
        case .float(let value)? where value.isFinite: return value
        default:
            report(node, "'\(path)' must be a number, not '\(text.debugSafe)'")
            return nil
        }
    }

    /// A plain `true` or `false` (or `True`, `FALSE`...).
    public func bool(_ node: YAMLNode, path: String) -> Bool? {
        guard let text = string(node, path: path) else { return nil }
        guard case .bool(let value)? = node.scalar?.value else {
            report(node, "'\(path)' must be true or false, not '\(text.debugSafe)'")
            return nil
        }
        return value
    }

    /// One of the raw values of `T`.
    public func choice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, path: String, _: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, path: path) else { return nil }
        guard let value = T(rawValue: text) else {
            report(
                node,
                "'\(path)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text.debugSafe)'"
            )
            return nil
        }
        return value
    }

    /// The items of a sequence, or nil with a problem reported for a scalar or a mapping.
    public func list(_ node: YAMLNode, path: String) -> YAMLSequence? {
        guard case .sequence(let sequence) = node else {
            report(node, "'\(path)' must be a list")
            return nil
        }
        return sequence
    }

    /// A mapping whose keys are exactly `keys`, each required; unknown keys are reported now.
    public func fields(_ node: YAMLNode, path: String, keys: [String]) -> YAMLFields {
        YAMLFields(reader: self, node: node, path: path, entries: mapping(node, path: path, allowed: keys))
    }

    /// A list of scalars (a single scalar counts as a list of one).
    public func strings(_ node: YAMLNode, path: String) -> [(String, YAMLNode)] {
        switch node {
        case .scalar(let scalar):
            return [(scalar.string, node)]
        case .sequence(let sequence):
            var result: [(String, YAMLNode)] = []
            for item in sequence {
                if let text = string(item, path: path) { result.append((text, item)) }
            }
            return result
        default:
            report(node, "'\(path)' must be a list of values")
            return []
        }
    }

    /// The allowed word closest to `word` by edit distance, when it is close enough to be a likely typo.
    public static func nearest(_ word: String, in candidates: [String]) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(Array(word), Array(candidate))
            guard distance <= (candidate.count <= 3 ? 1 : max(2, candidate.count / 3)) else { continue }
            if let current = best, current.1 <= distance { continue }
            best = (candidate, distance)
        }
        return best?.0
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}

/// The entries of a mapping read as required fields (see `YAMLReader.fields`).
public struct YAMLFields {
    let reader: YAMLReader
    let node: YAMLNode
    let path: String
    let entries: [String: YAMLNode]

    /// The value of `key` as `read` takes it (given the value and its path), or nil: missing (reported here, unless
    /// the node was no mapping, which is reported already) or refused by `read`.
    public func read<T>(_ key: String, _ read: (YAMLNode, String) -> T?) -> T? {
        let full = path.isEmpty ? key : "\(path).\(key)"
        guard let value = entries[key] else {
            if case .mapping = node { reader.report(node, "missing required field '\(full)'") }
            return nil
        }
        return read(value, full)
    }

    public func string(_ key: String) -> String? { read(key, reader.string) }
    public func int(_ key: String) -> Int? { read(key, reader.int) }
    public func number(_ key: String) -> Double? { read(key, reader.number) }
    public func bool(_ key: String) -> Bool? { read(key, reader.bool) }
}
