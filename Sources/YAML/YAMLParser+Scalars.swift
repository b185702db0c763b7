import SBSCore

/// The five scalar styles. Their folding follows libyaml's, so each reads as other YAML tools read it.
extension YAMLParser {
    // MARK: - Plain

    /// A plain scalar, which may go on over the lines below (folded into one). It ends before `: `, before ` #`, at a
    /// document marker, in block context at a line indented no more than `parentIndent`, and inside brackets before
    /// `,[]{}`. The position is left right after its last character.
    mutating func parsePlainScalar(parentIndent: Int, inFlow: Bool) throws(YAMLSyntaxError) -> YAMLScalar {
        let start = mark
        var text = FoldedText()
        var end = position
        while true {
            while let scalar = current, !Self.isBlank(scalar), scalar != "\n", !endsPlainScalar(inFlow: inFlow) {
                text.append(scalar)
                advance()
                end = position
            }
            guard Self.isBlank(current) || current == "\n",
                try skipPlainScalarGap(&text, parentIndent: parentIndent, inFlow: inFlow)
            else { break }
        }
        position = end
        return YAMLScalar(text.result, style: .plain, mark: start)
    }

    /// `: ` (or `:` before a bracket or comma inside brackets) and, inside brackets, `,[]{}`.
    func endsPlainScalar(inFlow: Bool) -> Bool {
        if current == ":" { return isSeparator(at: 1) || (inFlow && atFlowIndicator(after: 1)) }
        return inFlow && atFlowIndicator(after: 0)
    }

    /// Skips the blanks and line ends between two runs of a plain scalar; false when the scalar ends here.
    /// - Throws: `YAMLSyntaxError` at a tab that indents a continuation line in block context.
    mutating func skipPlainScalarGap(_ text: inout FoldedText, parentIndent: Int, inFlow: Bool) throws(YAMLSyntaxError)
        -> Bool
    {
        while let scalar = current, Self.isBlank(scalar) || scalar == "\n" {
            if scalar == "\n" {
                text.addLineBreak()
            } else {
                if scalar == "\t" && text.afterLineBreak && !inFlow && column <= parentIndent {
                    throw error("a tab indents this line: indent YAML with spaces")
                }
                text.addBlank(scalar)
            }
            advance()
        }
        guard current != nil, !atComment else { return false }
        if text.afterLineBreak {
            if atDocumentMarker("-") || atDocumentMarker(".") { return false }
            if !inFlow && column <= parentIndent { return false }
        }
        return true
    }

    // MARK: - Quoted

    /// A single-quoted (`''` is a quote) or double-quoted (backslash escapes) scalar, which may span lines.
    /// - Throws: `YAMLSyntaxError` at the opening quote when no closing one comes before the end of the document,
    ///   and at an invalid escape.
    mutating func parseQuotedScalar() throws(YAMLSyntaxError) -> YAMLScalar {
        let start = mark
        let double = current == "\""
        advance()
        var text = FoldedText()
        while true {
            guard let scalar = current, !atDocumentMarker("-"), !atDocumentMarker(".") else {
                throw YAMLSyntaxError(
                    "unterminated \(double ? "double" : "single")-quoted value: this quote has no closing one",
                    at: start)
            }
            switch scalar {
            case "\n":
                text.addLineBreak()
                advance()
            case " ", "\t":
                text.addBlank(scalar)
                advance()
            case "'" where !double && peek(1) == "'":
                text.append("'")
                advance(2)
            case "'" where !double, "\"" where double:
                advance()
                text.flush()
                return YAMLScalar(text.result, style: double ? .doubleQuoted : .singleQuoted, mark: start)
            case "\\" where double && peek(1) == "\n":
                text.addEscapedLineBreak()
                advance(2)
            case "\\" where double:
                text.append(try parseEscape())
            default:
                text.append(scalar)
                advance()
            }
        }
    }

    /// The character a double-quoted escape stands for; the current character is its backslash.
    mutating func parseEscape() throws(YAMLSyntaxError) -> Unicode.Scalar {
        let start = mark
        advance()  // the '\'
        let code = current
        advance()
        switch code {
        case "0": return "\0"
        case "a": return "\u{07}"
        case "b": return "\u{08}"
        case "t", "\t": return "\t"
        case "n": return "\n"
        case "v": return "\u{0B}"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "e": return "\u{1B}"
        case " ", "\"", "/", "\\": return code ?? " "
        case "N": return "\u{85}"
        case "_": return "\u{A0}"
        case "L": return "\u{2028}"
        case "P": return "\u{2029}"
        case "x": return try parseHexEscape(code: "x", digits: 2, at: start)
        case "u": return try parseHexEscape(code: "u", digits: 4, at: start)
        case "U": return try parseHexEscape(code: "U", digits: 8, at: start)
        default:
            throw YAMLSyntaxError(
                "invalid escape '\\\(code.map { String($0) } ?? "")' in a double-quoted value", at: start)
        }
    }

    /// The `digits` hexadecimal digits after `\x`, `\u` or `\U`, as a Unicode scalar.
    mutating func parseHexEscape(code: Character, digits: Int, at start: YAMLMark) throws(YAMLSyntaxError)
        -> Unicode.Scalar
    {
        var value: UInt32 = 0
        var written = "\\\(code)"
        for _ in 0..<digits {
            guard let scalar = current, scalar != "\n", let digit = Character(scalar).hexDigitValue, scalar.isASCII
            else {
                if let scalar = current, scalar != "\n", scalar != "\"" { written.unicodeScalars.append(scalar) }
                throw YAMLSyntaxError(
                    "invalid escape '\(written.debugSafe)': \\\(code) takes \(digits) hexadecimal digits", at: start)
            }
            written.unicodeScalars.append(scalar)
            value = value * 16 + UInt32(digit)
            advance()
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw YAMLSyntaxError("invalid escape '\(written)': not a Unicode character", at: start)
        }
        return scalar
    }

    // MARK: - Block

    enum Chomping {
        /// `-`: no line break at the end.
        case strip
        /// The default: one line break at the end.
        case clip
        /// `+`: every line break at the end.
        case keep
    }

    /// A literal (`|`) or folded (`>`) block scalar: its header, then the lines indented at least as much as its
    /// first non-empty line (or by the header's digit more than `parentIndent`). The position is left at the start
    /// of the first line after it.
    mutating func parseBlockScalar(parentIndent: Int) throws(YAMLSyntaxError) -> YAMLScalar {
        let start = mark
        let literal = current == "|"
        advance()
        let (chomping, increment) = try parseBlockScalarHeader(literal ? "|" : ">")
        advance()  // the header's line break
        var (emptyLines, indent) = try skipBlockScalarEmptyLines(
            indent: increment.map { max(parentIndent, 0) + $0 }, parentIndent: parentIndent)
        var text = String.UnicodeScalarView()
        var lineBreak = false
        var startsWithBlank = false
        while let scalar = current, column == indent {
            let blank = Self.isBlank(scalar)
            // Folding: a line break between two lines that do not start with a blank becomes a space (or goes when
            // empty lines stand between them); every other line break is kept.
            if !literal && lineBreak && !startsWithBlank && !blank {
                if emptyLines == 0 { text.append(" ") }
            } else if lineBreak {
                text.append("\n")
            }
            text.appendEach(repeatElement("\n", count: emptyLines))
            startsWithBlank = blank
            while let content = current, content != "\n" {
                text.append(content)
                advance()
            }
            lineBreak = current == "\n"
            advance()
            (emptyLines, indent) = try skipBlockScalarEmptyLines(indent: indent, parentIndent: parentIndent)
        }
        if chomping != .strip && lineBreak { text.append("\n") }
        if chomping == .keep { text.appendEach(repeatElement("\n", count: emptyLines)) }
        if current != nil { position.index = position.lineStart }
        return YAMLScalar(String(text), style: literal ? .literal : .folded, mark: start)
    }

    /// The chomping indicator and the indentation digit (either may come first), then an optional comment.
    mutating func parseBlockScalarHeader(_ indicator: String) throws(YAMLSyntaxError) -> (Chomping, Int?) {
        var chomping: Chomping?
        var increment: Int?
        while let scalar = current {
            if chomping == nil && (scalar == "+" || scalar == "-") {
                chomping = scalar == "+" ? .keep : .strip
            } else if increment == nil, let digit = Character(scalar).wholeNumberValue, scalar.isASCII {
                guard digit > 0 else { throw error("a block scalar's indentation digit must be from 1 to 9") }
                increment = digit
            } else {
                break
            }
            advance()
        }
        skipBlanks()
        if atComment { skipComment() }
        guard current == nil || current == "\n" else {
            throw error(
                "'\(indicator)' may be followed only by '+' or '-', a digit from 1 to 9 and a comment on its line")
        }
        return (chomping ?? .clip, increment)
    }

    /// Skips the indentation of the next line and any empty lines before it, returning how many line breaks it
    /// passed and the scalar's indentation: `indent` when known, else that of the deepest of these lines (at least
    /// one more than `parentIndent`).
    /// - Throws: `YAMLSyntaxError` at a tab in a line's indentation.
    mutating func skipBlockScalarEmptyLines(indent: Int?, parentIndent: Int) throws(YAMLSyntaxError) -> (
        lineBreaks: Int, indent: Int
    ) {
        var lineBreaks = 0
        var deepest = 0
        while true {
            while current == " " && column < (indent ?? .max) { advance() }
            deepest = max(deepest, column)
            if current == "\t" && column < (indent ?? .max) {
                throw error("a tab indents this line of a block scalar: indent YAML with spaces")
            }
            guard current == "\n" else { break }
            lineBreaks += 1
            advance()
        }
        return (lineBreaks, indent ?? max(deepest, parentIndent + 1, 1))
    }
}

/// The text of a plain or quoted scalar as it is read, with YAML's line folding: blanks between words are kept, a
/// single line break becomes a space, n line breaks become n − 1 newlines, and blanks around line breaks go.
struct FoldedText {
    private(set) var result = ""
    private var blanks = String.UnicodeScalarView()
    private var lineBreaks = 0
    /// After `\` at a line end in double quotes: the break itself is gone, the ones after it are kept.
    private var escapedLineBreak = false

    /// True when a line break (or an escaped one) came since the last text.
    var afterLineBreak: Bool { lineBreaks > 0 || escapedLineBreak }

    mutating func append(_ scalar: Unicode.Scalar) {
        flush()
        result.unicodeScalars.append(scalar)
    }

    /// A blank kept if text follows on the same line; at the start of a continuation line it is indentation.
    mutating func addBlank(_ scalar: Unicode.Scalar) {
        if !afterLineBreak { blanks.append(scalar) }
    }

    mutating func addLineBreak() {
        lineBreaks += 1
        blanks.removeAll()
    }

    mutating func addEscapedLineBreak() {
        flush()
        escapedLineBreak = true
    }

    /// Writes what the blanks and line breaks since the last text stand for.
    mutating func flush() {
        if escapedLineBreak {
            result.unicodeScalars.appendEach(repeatElement("\n", count: lineBreaks))
        } else if lineBreaks == 1 {
            result.unicodeScalars.append(" ")
        } else if lineBreaks > 1 {
            result.unicodeScalars.appendEach(repeatElement("\n", count: lineBreaks - 1))
        } else {
            result.unicodeScalars.appendEach(blanks)
        }
        blanks.removeAll()
        lineBreaks = 0
        escapedLineBreak = false
    }
}

extension String.UnicodeScalarView {
    /// Appends `scalars` one by one. `append(contentsOf:)` copies the whole view each time it appends anything: called
    /// at every blank or line end of a value, it made reading the value take time quadratic in its length.
    mutating func appendEach(_ scalars: some Sequence<Unicode.Scalar>) {
        for scalar in scalars { append(scalar) }
    }
}
