import SBSCore

/// A recursive-descent reader of one YAML document. Block collections are read by indentation, flow collections by
/// their brackets; `YAMLParser+Scalars.swift` reads the five scalar styles. Each collection counts towards
/// `maximumDepth`, which bounds the recursion.
struct YAMLParser {
    /// Where the parser is: an index into the text, and the line it is on (for marks).
    struct Position {
        var index = 0
        var line = 1
        var lineStart = 0
    }

    let text: [Unicode.Scalar]
    var position = Position()
    private var depth = 0
    private let maximumDepth: Int

    /// Takes the text without a leading byte order mark, with CRLF and CR line ends read as LF.
    /// - Throws: `YAMLSyntaxError` at a control character, which YAML does not allow in a file.
    init(_ source: String, maximumDepth: Int) throws(YAMLSyntaxError) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(source.unicodeScalars.count)
        var afterCR = false
        for scalar in source.unicodeScalars {
            defer { afterCR = scalar == "\r" }
            if scalar == "\u{FEFF}" && scalars.isEmpty { continue }
            if scalar == "\n" && afterCR { continue }
            scalars.append(scalar == "\r" ? "\n" : scalar)
        }
        self.text = scalars
        self.maximumDepth = maximumDepth
        try refuseControlCharacters()
    }

    // MARK: - The document

    /// The document's root node, or nil when there is none. An optional `---` starts it and an optional `...`
    /// ends it; only comments may follow.
    mutating func parseDocument() throws(YAMLSyntaxError) -> YAMLNode? {
        try skipToContent()
        if current == "%" { throw error("directives (%YAML, %TAG) are not supported") }
        var root: YAMLNode?
        var explicitStart = false
        if atDocumentMarker("-") {
            explicitStart = true
            advance(3)
            skipBlanks()
            if !atLineEnd { root = try parseInlineValue(parentIndent: -1) }
        }
        if root == nil {
            try skipToContent()
            if current != nil && !atDocumentMarker("-") && !atDocumentMarker(".") {
                root = try parseBlockNode(parentIndent: -1)
            } else if explicitStart {
                root = .scalar(YAMLScalar("", style: .plain, mark: mark))
            }
        }
        try skipToContent()
        var ended = false
        if atDocumentMarker(".") {
            advance(3)
            try expectLineEnd()
            try skipToContent()
            ended = true
        }
        guard current != nil else { return root }
        if atDocumentMarker("-") || ended { throw error("a second document is not supported: a file holds one") }
        throw error("unexpected content after the document's top-level value (check the indentation)")
    }

    // MARK: - Block structure

    /// A node that starts at the current character, the first of its line or one after `- `: a block sequence, a
    /// block mapping (when a key and `:` come first), a block scalar, or a flow or scalar node on this line.
    /// `parentIndent` is the indentation of the collection holding the node (-1 at the top).
    mutating func parseBlockNode(parentIndent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let indent = column
        if atIndicator("-") { return try parseBlockSequence(indent: indent) }
        if atIndicator("?") { throw error(Self.explicitKey) }
        if atIndicator(":") { throw error("a key is missing before ':'") }
        if current == "|" || current == ">" { return .scalar(try parseBlockScalar(parentIndent: parentIndent)) }
        let start = position
        let node = try parseInlineNode(parentIndent: parentIndent, inFlow: false)
        skipBlanks()
        guard atIndicator(":") else {
            try expectLineEnd()
            return node
        }
        try checkKey(node, startedAt: start)
        return try parseBlockMapping(indent: indent, firstKey: node)
    }

    /// Entries `key: value`, each key at column `indent`. The current character is the `:` after `firstKey`.
    mutating func parseBlockMapping(indent: Int, firstKey: YAMLNode) throws(YAMLSyntaxError) -> YAMLNode {
        try enterCollection(at: firstKey.mark)
        defer { depth -= 1 }
        var pairs: [YAMLMapping.Element] = []
        var keys = KeyRegister()
        var key = firstKey
        while true {
            try keys.add(key)
            advance()  // the ':'
            pairs.append((key, try parseMappingValue(indent: indent)))
            try skipToContent()
            guard current != nil, !atDocumentMarker("-"), !atDocumentMarker("."), column >= indent else { break }
            if column > indent {
                throw error("bad indentation of a mapping entry: its key is not under the keys above")
            }
            if atIndicator("-") { throw error("a list item cannot follow a mapping entry at the same indentation") }
            key = try parseBlockKey(indent: indent)
        }
        return .mapping(YAMLMapping(pairs, mark: firstKey.mark))
    }

    /// A key of a block mapping after its first one, up to its `:`.
    mutating func parseBlockKey(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        if atIndicator("?") { throw error(Self.explicitKey) }
        if atIndicator(":") { throw error("a key is missing before ':'") }
        let start = position
        let key = try parseInlineNode(parentIndent: indent, inFlow: false)
        skipBlanks()
        guard atIndicator(":") else {
            throw YAMLSyntaxError("expected 'key: value' at this indentation, found no ':' after the key", at: key.mark)
        }
        try checkKey(key, startedAt: start)
        return key
    }

    /// Refuses a key that is not a scalar on one line (the current character is the `:` after it).
    func checkKey(_ key: YAMLNode, startedAt start: Position) throws(YAMLSyntaxError) {
        guard key.scalar != nil else {
            throw Self.collectionKey(key)
        }
        guard start.line == position.line else {
            throw error("bad indentation: this ':' would end a key that spans several lines")
        }
    }

    /// The value after a block mapping's `:` (just read): on the same line, on the lines below indented more than
    /// the key (or a `- ` list at the key's own indentation), or nothing (null).
    mutating func parseMappingValue(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let emptyMark = mark
        skipBlanks()
        if !atLineEnd { return try parseInlineValue(parentIndent: indent) }
        try skipToContent()
        guard current != nil, !atDocumentMarker("-"), !atDocumentMarker(".") else { return emptyScalar(at: emptyMark) }
        if column > indent { return try parseBlockNode(parentIndent: indent) }
        if column == indent && atIndicator("-") { return try parseBlockSequence(indent: indent) }
        return emptyScalar(at: emptyMark)
    }

    /// A value that shares its line with the key before it (or with `---`): a block scalar, a flow collection or
    /// a scalar. A block collection cannot start there.
    mutating func parseInlineValue(parentIndent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        if atIndicator("-") {
            throw error("a list cannot start on the line of its key: put its items on the lines below")
        }
        if atIndicator("?") { throw error(Self.explicitKey) }
        if current == "|" || current == ">" { return .scalar(try parseBlockScalar(parentIndent: parentIndent)) }
        let start = position
        let node = try parseInlineNode(parentIndent: parentIndent, inFlow: false)
        skipBlanks()
        if atIndicator(":") {
            throw error(
                start.line == position.line
                    ? "a mapping cannot start on the line of its key: put its entries on the lines below"
                    : "bad indentation of a mapping entry: its key is indented more than the keys above")
        }
        try expectLineEnd()
        return node
    }

    /// Items `- item`, each dash at column `indent`. The current character is the first dash.
    mutating func parseBlockSequence(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let sequenceMark = mark
        try enterCollection(at: sequenceMark)
        defer { depth -= 1 }
        var items: [YAMLNode] = []
        while true {
            advance()  // the '-'
            let emptyMark = mark
            skipBlanks()
            if !atLineEnd {
                items.append(try parseBlockNode(parentIndent: indent))
            } else {
                try skipToContent()
                let below = current != nil && !atDocumentMarker("-") && !atDocumentMarker(".") && column > indent
                items.append(below ? try parseBlockNode(parentIndent: indent) : emptyScalar(at: emptyMark))
            }
            try skipToContent()
            guard current != nil, !atDocumentMarker("-"), !atDocumentMarker("."), column >= indent else { break }
            if column > indent { throw error("bad indentation of a list item: its '-' is not under the ones above") }
            guard atIndicator("-") else { break }
        }
        return .sequence(YAMLSequence(items, mark: sequenceMark))
    }

    // MARK: - Flow structure

    /// A node written on a line (it may continue on the lines below): a flow collection, or a quoted or plain
    /// scalar. Refuses what cannot start one.
    mutating func parseInlineNode(parentIndent: Int, inFlow: Bool) throws(YAMLSyntaxError) -> YAMLNode {
        switch current {
        case "[": return try parseFlowSequence()
        case "{": return try parseFlowMapping()
        case "\"", "'": return .scalar(try parseQuotedScalar())
        case "&": throw error("anchors (&name) are not supported")
        case "*": throw error("aliases (*name) are not supported")
        case "!": throw error("tags (!name) are not supported")
        case "|", ">": throw error("a block scalar ('\(current ?? " ")') cannot be a key or stand inside [ ] or { }")
        case "]", "}", ",": throw error("unexpected '\(current ?? " ")'")
        case "%", "@", "`", "#": throw error("a plain value cannot start with '\(current ?? " ")': quote it")
        default: break
        }
        if let first = current, "-?:".unicodeScalars.contains(first),
            isSeparator(at: 1) || (inFlow && atFlowIndicator(after: 1))
        {
            let followers = inFlow ? "a space, a comma or a bracket" : "a space"
            throw error("a plain value cannot start with '\(first)' followed by \(followers): quote it")
        }
        return .scalar(try parsePlainScalar(parentIndent: parentIndent, inFlow: inFlow))
    }

    /// `[a, b, ...]`, where an item `k: v` is a mapping of one entry. A trailing comma is allowed.
    mutating func parseFlowSequence() throws(YAMLSyntaxError) -> YAMLNode {
        let open = mark
        try enterCollection(at: open)
        defer { depth -= 1 }
        advance()  // the '['
        var items: [YAMLNode] = []
        while true {
            try skipFlowSpace(closing: "]", openedAt: open)
            if current == "]" { break }
            items.append(try parseFlowSequenceItem(openedAt: open))
            try skipFlowSpace(closing: "]", openedAt: open)
            if current == "]" { break }
            guard current == "," else {
                throw error("expected ',' or ']' in the list opened at line \(open.line), column \(open.column)")
            }
            advance()
        }
        advance()  // the ']'
        return .sequence(YAMLSequence(items, mark: open))
    }

    /// One item of a flow sequence: a node, or `key: value` read as a mapping of one entry.
    mutating func parseFlowSequenceItem(openedAt open: YAMLMark) throws(YAMLSyntaxError) -> YAMLNode {
        let key = try parseFlowKeyOrNode()
        skipBlanks()
        guard current == ":" else { return key }
        guard key.scalar != nil else {
            throw Self.collectionKey(key)
        }
        try enterCollection(at: key.mark)
        defer { depth -= 1 }
        let value = try parseFlowValue(closing: "]", openedAt: open)
        return .mapping(YAMLMapping([(key, value)], mark: key.mark))
    }

    /// `{k: v, ...}`, where a key without `:` has a null value. A trailing comma is allowed.
    mutating func parseFlowMapping() throws(YAMLSyntaxError) -> YAMLNode {
        let open = mark
        try enterCollection(at: open)
        defer { depth -= 1 }
        advance()  // the '{'
        var pairs: [YAMLMapping.Element] = []
        var keys = KeyRegister()
        while true {
            try skipFlowSpace(closing: "}", openedAt: open)
            if current == "}" { break }
            let key = try parseFlowKeyOrNode()
            guard key.scalar != nil else {
                throw Self.collectionKey(key)
            }
            try keys.add(key)
            skipBlanks()
            let value = current == ":" ? try parseFlowValue(closing: "}", openedAt: open) : emptyScalar(at: mark)
            pairs.append((key, value))
            try skipFlowSpace(closing: "}", openedAt: open)
            if current == "}" { break }
            guard current == "," else {
                throw error("expected ',' or '}' in the mapping opened at line \(open.line), column \(open.column)")
            }
            advance()
        }
        advance()  // the '}'
        return .mapping(YAMLMapping(pairs, mark: open))
    }

    /// A node inside brackets, refusing an explicit `? ` key and a missing key.
    mutating func parseFlowKeyOrNode() throws(YAMLSyntaxError) -> YAMLNode {
        if atIndicator("?") { throw error(Self.explicitKey) }
        if current == ":" { throw error("a key is missing before ':'") }
        return try parseInlineNode(parentIndent: -1, inFlow: true)
    }

    /// The value after a flow key's `:` (the current character), null when a `,` or the closing bracket follows.
    mutating func parseFlowValue(closing: Unicode.Scalar, openedAt open: YAMLMark) throws(YAMLSyntaxError) -> YAMLNode {
        advance()  // the ':'
        try skipFlowSpace(closing: closing, openedAt: open)
        if current == "," || current == closing { return emptyScalar(at: mark) }
        return try parseInlineNode(parentIndent: -1, inFlow: true)
    }

    /// Counts one more level of nesting.
    /// - Throws: `YAMLSyntaxError` past `maximumDepth`, before the recursion could exhaust the stack.
    mutating func enterCollection(at mark: YAMLMark) throws(YAMLSyntaxError) {
        guard depth < maximumDepth else {
            throw YAMLSyntaxError("collections are nested deeper than \(maximumDepth) levels", at: mark)
        }
        depth += 1
    }

    func emptyScalar(at mark: YAMLMark) -> YAMLNode { .scalar(YAMLScalar("", style: .plain, mark: mark)) }

    static let explicitKey = "complex keys ('? ') are not supported"

    static func collectionKey(_ key: YAMLNode) -> YAMLSyntaxError {
        YAMLSyntaxError("a list or mapping cannot be a key (complex keys are not supported)", at: key.mark)
    }
}

/// The keys of one mapping so far, to refuse a duplicate. sbs reads keys as text, so `1` and `"1"` are the same key.
struct KeyRegister {
    private var seen: [String: YAMLMark] = [:]

    mutating func add(_ key: YAMLNode) throws(YAMLSyntaxError) {
        let text = key.string ?? ""
        if let first = seen[text] {
            throw YAMLSyntaxError(
                "duplicate key '\(text.debugSafe)' (first at line \(first.line), column \(first.column))",
                at: key.mark)
        }
        seen[text] = key.mark
    }
}

// MARK: - Reading characters

extension YAMLParser {
    var current: Unicode.Scalar? { peek(0) }

    func peek(_ offset: Int) -> Unicode.Scalar? {
        let index = position.index + offset
        return text.indices.contains(index) ? text[index] : nil
    }

    /// The 0-based column, which is also the indentation of a line's first character.
    var column: Int { position.index - position.lineStart }

    var mark: YAMLMark { YAMLMark(line: position.line, column: column + 1) }

    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where position.index < text.count {
            if text[position.index] == "\n" {
                position.line += 1
                position.lineStart = position.index + 1
            }
            position.index += 1
        }
    }

    func error(_ message: String) -> YAMLSyntaxError { YAMLSyntaxError(message, at: mark) }

    static func isBlank(_ scalar: Unicode.Scalar?) -> Bool { scalar == " " || scalar == "\t" }

    /// A space, a tab, a line end or the end of the text at `offset`: what must follow an indicator.
    func isSeparator(at offset: Int) -> Bool {
        let scalar = peek(offset)
        return scalar == nil || scalar == "\n" || Self.isBlank(scalar)
    }

    /// `indicator` followed by a separator: `- `, `? `, `: `.
    func atIndicator(_ indicator: Unicode.Scalar) -> Bool { current == indicator && isSeparator(at: 1) }

    func atFlowIndicator(after offset: Int) -> Bool {
        guard let scalar = peek(offset) else { return false }
        return ",[]{}".unicodeScalars.contains(scalar)
    }

    /// `---` (marker `-`) or `...` (marker `.`) at the start of a line and followed by a separator.
    func atDocumentMarker(_ marker: Unicode.Scalar) -> Bool {
        column == 0 && peek(0) == marker && peek(1) == marker && peek(2) == marker && isSeparator(at: 3)
    }

    /// At a line end, the end of the text, or a comment (after blanks already skipped).
    var atLineEnd: Bool { current == nil || current == "\n" || atComment }

    /// A `#` that starts a comment: at the start of a line or after a blank.
    var atComment: Bool {
        current == "#" && (position.index == position.lineStart || Self.isBlank(peek(-1)))
    }

    mutating func skipBlanks() {
        while Self.isBlank(current) { advance() }
    }

    mutating func skipComment() {
        while let scalar = current, scalar != "\n" { advance() }
    }

    /// Skips blanks and a comment, then requires the end of the line.
    mutating func expectLineEnd() throws(YAMLSyntaxError) {
        skipBlanks()
        if atComment { skipComment() }
        guard current == nil || current == "\n" else { throw error("unexpected text after the value") }
    }

    /// Skips blanks, comments and line ends up to the next content, refusing a line indented with a tab: YAML
    /// indentation is spaces only, and a tab would be read as some number of spaces by other tools.
    mutating func skipToContent() throws(YAMLSyntaxError) {
        while let scalar = current {
            if Self.isBlank(scalar) || scalar == "\n" {
                advance()
            } else if atComment {
                skipComment()
            } else {
                break
            }
        }
        guard current != nil else { return }
        let indentation = text[position.lineStart..<position.index]
        if indentation.allSatisfy(Self.isBlank), let tab = indentation.firstIndex(of: "\t") {
            throw YAMLSyntaxError(
                "a tab indents this line: indent YAML with spaces",
                at: YAMLMark(line: position.line, column: tab - position.lineStart + 1))
        }
    }

    /// Skips blanks (tabs included), comments and line ends inside brackets.
    /// - Throws: `YAMLSyntaxError` at the opening bracket when the text or the document ends first.
    mutating func skipFlowSpace(closing: Unicode.Scalar, openedAt open: YAMLMark) throws(YAMLSyntaxError) {
        while let scalar = current, Self.isBlank(scalar) || scalar == "\n" || atComment {
            if atComment { skipComment() } else { advance() }
        }
        if current == nil || atDocumentMarker("-") || atDocumentMarker(".") {
            let collection = closing == "]" ? "sequence: this '[' has no ']'" : "mapping: this '{' has no '}'"
            throw YAMLSyntaxError("unterminated flow \(collection)", at: open)
        }
    }

    /// Refuses the control characters YAML does not allow in a file (tabs and line ends aside); escapes in
    /// double quotes can still write them.
    func refuseControlCharacters() throws(YAMLSyntaxError) {
        var line = 1
        var lineStart = 0
        for (index, scalar) in text.enumerated() {
            if scalar == "\n" {
                line += 1
                lineStart = index + 1
                continue
            }
            let value = scalar.value
            let control = value < 0x20 || value == 0x7F || ((0x80...0x9F).contains(value) && value != 0x85)
            if (control && scalar != "\t") || value == 0xFFFE || value == 0xFFFF {
                let code = String(value, radix: 16, uppercase: true)
                let name = "U+" + String(repeating: "0", count: max(0, 4 - code.count)) + code
                throw YAMLSyntaxError(
                    "control character \(name) is not allowed: write it as an escape in double quotes",
                    at: YAMLMark(line: line, column: index - lineStart + 1))
            }
        }
    }
}
