import TestSupport

/// Writes random YAML documents: nested block and flow mappings and sequences, scalars in every style (plain,
/// single- and double-quoted, literal and folded, on one line or several), comments, blank lines and varied
/// indentation. The documents are valid YAML without the features the reader refuses.
struct YAMLSampleWriter {
    private var random: SeededGenerator

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    /// A node as written: `inline` goes after `key: ` or `- ` (its further lines indented more than the
    /// collection holding it); `block` is a block collection's lines, the first indented as the collection.
    enum Written {
        case inline(String, further: [String])
        case block([String])
    }

    mutating func document() -> String {
        var lines: [String] = []
        if chance(0.2) { lines.append("# generated") }
        if chance(0.2) { lines.append("---") }
        switch Int.random(in: 0..<6, using: &random) {
        case 0: lines += blockSequence(indent: 0, depth: 0)
        case 1:
            let (first, further) = flow(depth: 0, indent: 0)
            lines += [first] + further
        case 2:
            if case .inline(let first, let further) = scalar(parentIndent: -1) {
                lines += [first.isEmpty ? "~" : first] + further
            }
        default: lines += blockMapping(indent: chance(0.1) ? 2 : 0, depth: 0)
        }
        if chance(0.1) { lines.append("...") }
        return lines.joined(separator: "\n") + (chance(0.9) ? "\n" : "")
    }

    // MARK: - Block collections

    mutating func blockMapping(indent: Int, depth: Int) -> [String] {
        var lines: [String] = []
        var keys = Set<String>()
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let key = uniqueKey(&keys)
            lines += spacer(indent: indent)
            switch value(parentIndent: indent, depth: depth, mappingValue: true) {
            case .inline(let text, let further):
                lines.append(
                    pad(indent) + key + ":" + (text.isEmpty ? "" : " " + text) + (further.isEmpty ? comment() : ""))
                lines += further
            case .block(let block):
                lines.append(pad(indent) + key + ":" + comment())
                lines += block
            }
        }
        return lines
    }

    mutating func blockSequence(indent: Int, depth: Int) -> [String] {
        var lines: [String] = []
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            lines += spacer(indent: indent)
            switch value(parentIndent: indent, depth: depth, mappingValue: false) {
            case .inline(let text, let further):
                lines.append(pad(indent) + "-" + (text.isEmpty ? "" : " " + text) + (further.isEmpty ? comment() : ""))
                lines += further
            case .block(let block):
                let first = block[0]
                let childIndent = first.prefix { $0 == " " }.count
                if childIndent >= indent + 2 && chance(0.7) {
                    // Compact: the first entry shares the dash's line.
                    lines.append(pad(indent) + "-" + pad(childIndent - indent - 1) + first.dropFirst(childIndent))
                    lines += block.dropFirst()
                } else {
                    lines.append(pad(indent) + "-" + comment())
                    lines += block
                }
            }
        }
        return lines
    }

    /// A value in a block collection at `parentIndent`: a scalar, a flow collection, or (while not too deep) a
    /// block collection indented more, or a sequence at the key's own indentation.
    mutating func value(parentIndent: Int, depth: Int, mappingValue: Bool) -> Written {
        let roll = Int.random(in: 0..<10, using: &random)
        if depth < 5 && roll < 3 {
            return .block(blockMapping(indent: parentIndent + Int.random(in: 1...4, using: &random), depth: depth + 1))
        }
        if depth < 5 && roll < 5 {
            let step = mappingValue && chance(0.3) ? 0 : Int.random(in: 1...4, using: &random)
            return .block(blockSequence(indent: parentIndent + step, depth: depth + 1))
        }
        if roll < 6 {
            let (first, further) = flow(depth: depth, indent: parentIndent + Int.random(in: 1...3, using: &random))
            return .inline(first, further: further)
        }
        return scalar(parentIndent: parentIndent)
    }

    // MARK: - Flow collections

    /// A flow collection whose further lines (if it breaks) are indented at `indent`.
    mutating func flow(depth: Int, indent: Int) -> (String, [String]) {
        let lines = flowNode(depth: depth, indent: indent).split(separator: "\n", omittingEmptySubsequences: false)
        return (String(lines[0]), lines.dropFirst().map(String.init))
    }

    mutating func flowNode(depth: Int, indent: Int) -> String {
        let roll = Int.random(in: 0..<10, using: &random)
        if depth < 6 && roll < 3 {
            let items = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                flowItem(depth: depth + 1, indent: indent)
            }
            return "[" + joinFlow(items, indent: indent) + "]"
        }
        if depth < 6 && roll < 5 {
            var keys = Set<String>()
            let entries = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                let key = uniqueKey(&keys, inFlow: true)
                switch Int.random(in: 0..<8, using: &random) {
                case 0: return key
                case 1: return key + ": "
                default: return key + ": " + flowNode(depth: depth + 1, indent: indent)
                }
            }
            return "{" + joinFlow(entries, indent: indent) + "}"
        }
        return flowScalar(indent: indent)
    }

    /// An item of a flow sequence, now and then a one-entry mapping `key: value`.
    mutating func flowItem(depth: Int, indent: Int) -> String {
        guard chance(0.1) else { return flowNode(depth: depth, indent: indent) }
        var keys = Set<String>()
        return uniqueKey(&keys, inFlow: true) + ": " + flowNode(depth: depth, indent: indent)
    }

    mutating func joinFlow(_ items: [String], indent: Int) -> String {
        var text = chance(0.1) ? " " : ""
        for (index, item) in items.enumerated() {
            if index > 0 { text += "," + (chance(0.2) ? (chance(0.3) ? " # note" : "") + "\n" + pad(indent) : " ") }
            text += item
        }
        if !items.isEmpty && chance(0.1) { text += "," }
        return text
    }

    /// A scalar inside brackets; a quoted one may break over lines indented at `indent`.
    mutating func flowScalar(indent: Int) -> String {
        let (first, further): (String, [String])
        switch Int.random(in: 0..<4, using: &random) {
        case 0: (first, further) = singleQuoted(parentIndent: indent - 1)
        case 1: (first, further) = doubleQuoted(parentIndent: indent - 1)
        default: return words(from: Self.flowWords)
        }
        return ([first] + further).joined(separator: "\n")
    }

    // MARK: - Scalars

    /// Words that read as plain scalars anywhere, `:` and `#` inside them included. (`?x` and `:x` are left out:
    /// libyaml reads a `?` or `:` that starts a token inside brackets as an indicator, unlike YAML 1.2.)
    static let flowWords = [
        "a", "value", "llama3.1:8b", "a#b", "x-y", "-x", "1", "-2", "3.5", "1e3", "0x1F", "0o17",
        "true", "False", "~", "null", "yes", "é", "日本", "a:b", "x?", "x!", "x&y", "x*y", "it's",
        "x\"q\"", "50%", "x|y", "x>y", "x@y", ".5", "+1", "a\\b",
    ]
    /// Words that read as plain scalars in block context only.
    static let blockWords =
        flowWords + ["http://example.com:8080/x?q=1#frag", "a,b", "a[0]", "y{x}", "f(x)", "?x", ":x"]

    mutating func scalar(parentIndent: Int) -> Written {
        switch Int.random(in: 0..<12, using: &random) {
        case 0: return .inline("", further: [])
        case 1, 2:
            let (first, further) = singleQuoted(parentIndent: parentIndent)
            return .inline(first, further: further)
        case 3, 4:
            let (first, further) = doubleQuoted(parentIndent: parentIndent)
            return .inline(first, further: further)
        case 5: return blockScalar(parentIndent: parentIndent, literal: true)
        case 6: return blockScalar(parentIndent: parentIndent, literal: false)
        case 7:
            return .inline(
                words(from: Self.blockWords), further: continuation(parentIndent: parentIndent, Self.blockWords))
        default: return .inline(words(from: Self.blockWords), further: [])
        }
    }

    /// Further lines of a plain scalar (or none), indented more than the collection holding it, with empty lines.
    mutating func continuation(parentIndent: Int, _ vocabulary: [String]) -> [String] {
        (0..<Int.random(in: 0...3, using: &random)).map { _ in
            chance(0.2) ? "" : pad(parentIndent + Int.random(in: 1...4, using: &random)) + words(from: vocabulary)
        }
    }

    mutating func singleQuoted(parentIndent: Int) -> (String, [String]) {
        let pieces = ["a", "b c", "''", "\"", "\\n", "#", ": ", " - ", "é", "  ", "[", "}", ","]
        return quoted("'", pieces: pieces, parentIndent: parentIndent)
    }

    mutating func doubleQuoted(parentIndent: Int) -> (String, [String]) {
        let pieces = [
            "a", "b c", "'", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\0", "\\a", "\\b", "\\e", "\\f", "\\r",
            "\\v", "\\ ", "\\N", "\\_", "\\L", "\\P", "\\x41", "\\u00e9", "\\U0001F600", "#", ": ", "  ", "\\\t",
        ]
        return quoted("\"", pieces: pieces, parentIndent: parentIndent)
    }

    /// A quoted scalar of random pieces, broken now and then over lines (in double quotes also by an escaped line
    /// break, `\` at a line end).
    mutating func quoted(_ quote: String, pieces: [String], parentIndent: Int) -> (String, [String]) {
        var lines = [quote]
        for _ in 0..<Int.random(in: 0...6, using: &random) {
            if chance(0.15) {
                if quote == "\"" && chance(0.3) { lines[lines.count - 1] += "\\" }
                if chance(0.2) { lines.append("") }
                lines.append(pad(max(parentIndent + 1, 0) + Int.random(in: 0...2, using: &random)))
            }
            lines[lines.count - 1] += pieces.randomElement(using: &random) ?? ""
        }
        lines[lines.count - 1] += quote
        return (lines[0], Array(lines.dropFirst()))
    }

    /// A literal or folded block scalar with random chomping, sometimes an indentation digit, more-indented and
    /// empty lines, and trailing empty lines.
    mutating func blockScalar(parentIndent: Int, literal: Bool) -> Written {
        let base = max(parentIndent, 0)
        let step = Int.random(in: 1...3, using: &random)
        let indent = base + step
        var contentLines: [String] = []
        for index in 0..<Int.random(in: 0...5, using: &random) {
            switch Int.random(in: 0..<8, using: &random) {
            case 0: contentLines.append("")
            case 1 where index > 0:
                contentLines.append(pad(indent + Int.random(in: 1...2, using: &random)) + words(from: Self.blockWords))
            case 2: contentLines.append(pad(indent) + words(from: Self.blockWords) + "  ")
            default: contentLines.append(pad(indent) + words(from: Self.blockWords))
            }
        }
        if chance(0.3) { contentLines += Array(repeating: "", count: Int.random(in: 1...2, using: &random)) }
        let chomping = ["", "-", "+"].randomElement(using: &random) ?? ""
        let digit = chance(0.3) || contentLines.first == "" ? String(step) : ""
        let header =
            (literal ? "|" : ">") + (chance(0.5) ? chomping + digit : digit + chomping)
            + (chance(0.2) ? " # header" : "")
        return .inline(header, further: contentLines)
    }

    // MARK: - Pieces

    mutating func words(from vocabulary: [String]) -> String {
        (0..<Int.random(in: 1...3, using: &random)).map { _ in vocabulary.randomElement(using: &random) ?? "a" }
            .joined(separator: chance(0.2) ? "  " : " ")
    }

    /// A key not in `keys` yet: plain, or quoted now and then.
    mutating func uniqueKey(_ keys: inout Set<String>, inFlow: Bool = false) -> String {
        while true {
            let word = (inFlow ? Self.flowWords : Self.blockWords).randomElement(using: &random) ?? "a"
            let text = chance(0.3) ? word + String(Int.random(in: 0..<100, using: &random)) : word
            guard !keys.contains(text), !text.hasPrefix("\"") else { continue }
            keys.insert(text)
            switch Int.random(in: 0..<8, using: &random) {
            case 0: return "'" + text.replacingAll("'", with: "''") + "'"
            case 1 where !text.contains("\\") && !text.contains("\""): return "\"" + text + "\""
            default: return text
            }
        }
    }

    /// Now and then blank lines or comment lines before an entry.
    mutating func spacer(indent: Int) -> [String] {
        switch Int.random(in: 0..<10, using: &random) {
        case 0: return [""]
        case 1: return [pad(Int.random(in: 0...indent + 2, using: &random)) + "# comment"]
        default: return []
        }
    }

    mutating func comment() -> String { chance(0.1) ? " # trailing comment" : "" }

    func pad(_ count: Int) -> String { String(repeating: " ", count: max(count, 0)) }

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &random) < probability }
}

extension String {
    /// The text with every `target` replaced (no Foundation in this file's tests).
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
