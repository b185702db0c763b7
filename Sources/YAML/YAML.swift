// The YAML that sbs reads (step files, answers files, the profiles table), parsed without Foundation so the
// release binary need not link it. The grammar is YAML 1.2's block and flow styles without the features no
// configuration file here needs: anchors, aliases, tags, directives, complex keys and more than one document
// are refused with their line and column instead of being half-supported.

/// A position in YAML text: 1-based line and column. Columns count Unicode scalars, as libyaml's do.
public struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
    public let line: Int
    public let column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// Why a text is not YAML that sbs reads, and where.
public struct YAMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let message: String

    public init(_ message: String, at mark: YAMLMark) {
        self.line = mark.line
        self.column = mark.column
        self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A scalar with the style it was written in: only a plain scalar is resolved to null, a boolean or a number.
public struct YAMLScalar: Sendable, Hashable {
    public enum Style: Sendable, Hashable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    /// What a scalar means under the YAML 1.2 core schema.
    public enum Value: Sendable, Hashable {
        case null
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
    }

    public let string: String
    public let style: Style
    public let mark: YAMLMark

    public init(_ string: String, style: Style, mark: YAMLMark) {
        self.string = string
        self.style = style
        self.mark = mark
    }

    /// The core schema's reading of a plain scalar (`~`, `true`, `0x1F`, `1e3`, `.inf`...); any other style is text.
    public var value: Value {
        guard style == .plain else { return .string(string) }
        return YAMLCoreSchema.resolve(string)
    }

    /// True for a plain `null`, `Null`, `NULL`, `~` or nothing at all (`key:`).
    public var isNull: Bool { value == .null }
}

/// A mapping's entries in the order written. Keys are scalars (the reader refuses any other key).
public struct YAMLMapping: Sendable, RandomAccessCollection {
    public typealias Element = (key: YAMLNode, value: YAMLNode)

    public let pairs: [Element]
    public let mark: YAMLMark

    public init(_ pairs: [Element], mark: YAMLMark) {
        self.pairs = pairs
        self.mark = mark
    }

    public var startIndex: Int { pairs.startIndex }
    public var endIndex: Int { pairs.endIndex }
    public subscript(position: Int) -> Element { pairs[position] }

    /// The value of the key whose text is `key`.
    public subscript(key: String) -> YAMLNode? { pairs.first { $0.key.string == key }?.value }
}

/// A sequence's items in order.
public struct YAMLSequence: Sendable, RandomAccessCollection {
    public let items: [YAMLNode]
    public let mark: YAMLMark

    public init(_ items: [YAMLNode], mark: YAMLMark) {
        self.items = items
        self.mark = mark
    }

    public var startIndex: Int { items.startIndex }
    public var endIndex: Int { items.endIndex }
    public subscript(position: Int) -> YAMLNode { items[position] }
}

/// One node of a YAML document, with where it starts.
public enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case mapping(YAMLMapping)
    case sequence(YAMLSequence)

    /// Parses a YAML document. Returns nil when the text holds no document (nothing but comments and blank lines).
    /// - Throws: `YAMLSyntaxError` at the first problem: invalid YAML, a feature sbs does not read (anchors,
    ///   aliases, tags, directives, complex keys, a second document), a duplicate key, or nesting deeper than
    ///   `maximumDepth` collections.
    public static func parse(_ text: String, maximumDepth: Int = 100) throws(YAMLSyntaxError) -> YAMLNode? {
        var parser = try YAMLParser(text, maximumDepth: maximumDepth)
        return try parser.parseDocument()
    }

    public var mark: YAMLMark {
        switch self {
        case .scalar(let scalar): return scalar.mark
        case .mapping(let mapping): return mapping.mark
        case .sequence(let sequence): return sequence.mark
        }
    }

    /// The text of a scalar; nil for a mapping or a sequence.
    public var string: String? { scalar?.string }

    public var scalar: YAMLScalar? {
        if case .scalar(let scalar) = self { return scalar }
        return nil
    }

    public var mapping: YAMLMapping? {
        if case .mapping(let mapping) = self { return mapping }
        return nil
    }

    public var sequence: YAMLSequence? {
        if case .sequence(let sequence) = self { return sequence }
        return nil
    }
}

/// The YAML 1.2 core schema's tag resolution for plain scalars.
enum YAMLCoreSchema {
    static func resolve(_ text: String) -> YAMLScalar.Value {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        if let number = integer(text) { return .int(number) }
        if isDecimal(text), let number = Double(text) { return .float(number) }
        return .string(text)
    }

    /// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`, when it fits an Int.
    static func integer(_ text: String) -> Int? {
        if text.hasPrefix("0o") { return digits(text.dropFirst(2), radix: 8) }
        if text.hasPrefix("0x") { return digits(text.dropFirst(2), radix: 16) }
        let unsigned = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        guard digits(unsigned, radix: 10) != nil else { return nil }
        return Int(text)
    }

    private static func digits(_ text: Substring, radix: Int) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.hexDigitValue.map { $0 < radix } == true }) else {
            return nil
        }
        return Int(text, radix: radix)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`: the only float syntax besides `.inf` and `.nan`
    /// (Swift's `Double(String)` alone would also take `inf`, `nan` and hexadecimal floats).
    static func isDecimal(_ text: String) -> Bool {
        var rest = Substring(text)
        func digitCount() -> Int {
            let count = rest.prefix { ("0"..."9").contains($0) }.count
            rest = rest.dropFirst(count)
            return count
        }
        if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
        var mantissa = digitCount()
        if rest.first == "." {
            rest = rest.dropFirst()
            mantissa += digitCount()
        }
        guard mantissa > 0 else { return false }
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
            guard digitCount() > 0 else { return false }
        }
        return rest.isEmpty
    }
}
