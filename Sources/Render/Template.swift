// Mustache, as far as the templates under assets/deploy/ need it, with no Foundation, and louder than Mustache: a
// name with no value, a value of the wrong kind for its tag, or a value its template's content type refuses stops
// rendering with an error that names the template, the line and the tag, instead of writing nothing or a guess.

/// A template that cannot be used: which one, the line, and what is wrong there.
public struct TemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The name the template is registered under (`nginx/nginx.conf`).
    public var template: String
    /// 1-based; for a tag, the line where its `{{` is.
    public var line: Int
    /// What is wrong, with the tag as written.
    public var problem: String

    public var description: String { "\(template), line \(line): \(problem)" }
}

/// The format a template renders, declared on its first line: `{{% CONTENT_TYPE: YAML}}`.
///
/// Values are written as they are, never escaped or quoted by the renderer (a template quotes where its format
/// needs it: `image: "{{imageAppDB}}"`, `NAME='{{value}}'`). The content type names what a value must not hold in
/// that format; such a value stops rendering rather than change what the file means. sbs's values are checked
/// types (SBSCore's `SafeToken`, `DomainName` …, secrets by `SecretText`) that never hold these characters.
public enum ContentType: String, Sendable, CaseIterable {
    case yaml = "YAML", nginx = "NGINX", env = "ENV", ini = "INI", sql = "SQL", shell = "SHELL"

    /// The characters a value must not hold, besides control characters (a line break would start a line of its
    /// own in any of these formats); nil when the format takes no values: sbs has no quoting rules for it.
    var refusedCharacters: String? {
        switch self {
        // Quotes and backslashes end or escape a quoted scalar and `#` starts a comment; compose (and Grafana's
        // provisioning) expand `$`.
        case .yaml: "\"'\\#$"
        // `;` ends a directive, braces open and close blocks, `$` names a variable, `#` starts a comment.
        case .nginx: "\"'\\#$;{}"
        // Every value is single-quoted (`NAME='value'`), where Compose takes everything but `'` literally.
        case .env: "'"
        // `;` and `#` start comments; Grafana expands `$__env{…}`.
        case .ini: "#;$"
        case .sql, .shell: nil
        }
    }

    /// Why `text` cannot be written in this format, or nil when it can. Names the refused character, never the value
    /// (it may be a secret).
    func refusal(of text: String) -> String? {
        guard let refused = refusedCharacters else {
            return "\(rawValue) templates take no values (sbs has no quoting rules for \(rawValue))"
        }
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f {
                return
                    "the value holds a control character (U+\(hex4(scalar.value))), which \(rawValue) templates cannot carry"
            }
            if refused.unicodeScalars.contains(scalar) {
                return
                    "the value holds `\(scalar)`, which \(rawValue) templates cannot carry (values are written as they are, never escaped)"
            }
        }
        return nil
    }

    private func hex4(_ value: UInt32) -> String {
        let digits = Array("0123456789ABCDEF")
        return String((0..<4).reversed().map { digits[Int((value >> (4 * UInt32($0))) & 0xf)] })
    }
}

/// What a name stands for while a template renders. There is no conversion from other types: text is made
/// explicitly (`.number` for decimal integers), and each kind has the tags it fits.
public enum TemplateValue: Sendable, Equatable {
    /// Written by a variable, `{{name}}`.
    case text(String)
    /// Shows or hides a section: `{{#name}}` renders its body once when true, `{{^name}}` when false.
    case flag(Bool)
    /// `{{#name}}` renders its body once per element, with the element on top of the context stack;
    /// `{{^name}}` renders when the list is empty.
    case list([TemplateValue])
    /// Names, looked up inside a section over a list of records, or with a dotted name (`smtp.host`).
    case record([String: TemplateValue])

    /// A decimal integer, as text.
    public static func number(_ value: Int) -> TemplateValue { .text(String(value)) }

    /// A list of one record, or an empty list: `{{#smtp}}…{{/smtp}}` renders with the record's names, or not at all.
    public static func optional(_ record: [String: TemplateValue]?) -> TemplateValue {
        .list(record.map { [.record($0)] } ?? [])
    }

    /// The kind, for messages.
    var kind: String {
        switch self {
        case .text: "text"
        case .flag: "a flag"
        case .list: "a list"
        case .record: "a record"
        }
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .flag(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .record(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// A parsed Mustache template.
///
/// The first line declares the content type, `{{% CONTENT_TYPE: YAML}}` (see `ContentType`). Tags: variables
/// `{{name}}`, sections `{{#name}}…{{/name}}`, inverted sections `{{^name}}…{{/name}}`, partials
/// `{{> folder/name}}` and comments `{{! … }}`. Set delimiters, blocks, parents, lambdas and the unescaped
/// variables `{{{name}}}` and `{{& name}}` (nothing is escaped) are refused.
///
/// A line holding a single section, inverted, closing, comment, partial or pragma tag and only blanks (spaces, tabs)
/// besides is left out of the output together with its line break; the blanks before a standalone partial indent
/// every line of that partial.
///
/// Where swift-mustache departs from the Mustache spec, this follows the spec; no sbs template meets these cases:
/// blanks at the very end of a template are kept, a line holding a closing tag and another tag is not standalone,
/// and an indented partial indents every line (also after `\r\n` and in each pass of a section).
struct Template: Sendable {
    /// The name it is registered under, named by its errors.
    let name: String
    let contentType: ContentType
    let nodes: [Node]
    /// Each `{{> name}}` with its line: a library checks that they name templates before it renders.
    let partials: [PartialUse]

    /// - Throws: `TemplateError` for a first line that does not declare the content type, a second declaration,
    ///   a tag without its `}}`, a section that is not closed, a closing tag that does not match the open section,
    ///   a malformed name, an unknown pragma or a Mustache tag this renderer lacks.
    init(_ text: String, named name: String) throws(TemplateError) {
        self.name = name
        let pieces = try Self.pieces(of: Array(text.utf8), template: name)
        guard case .tag(let first)? = pieces.first, case .pragma(let contentType) = first.kind else {
            throw TemplateError(
                template: name, line: 1,
                problem: "the first line does not declare the content type: "
                    + "make it {{% CONTENT_TYPE: TYPE}}, TYPE one of \(Self.contentTypeNames)")
        }
        self.contentType = contentType
        (nodes, partials) = try Self.nest(Self.removingStandaloneLines(pieces).dropFirst(), template: name)
    }
}

/// Parsed templates that include each other by name (`{{> nginx/_common-http.conf}}`).
public struct TemplateLibrary: Sendable {
    private var templates: [String: Template] = [:]

    public init() {}

    /// Parses `text` and registers it as `name`, replacing a template of that name.
    /// - Throws: `TemplateError` when the text does not parse (see `Template.init`).
    public mutating func register(_ text: String, named name: String) throws(TemplateError) {
        templates[name] = try Template(text, named: name)
    }

    /// The content type `name` declares, or nil when no template is registered as `name`.
    public func contentType(of name: String) -> ContentType? { templates[name]?.contentType }

    /// Checks what no values change: every partial names a registered template of the same content type as the
    /// template that includes it (its values are checked by its own type, which must be the file's).
    /// - Throws: `TemplateError` at the first `{{> name}}` that breaks this, by template name and line.
    public func check() throws(TemplateError) {
        for template in templates.values.sorted(by: { $0.name < $1.name }) {
            for use in template.partials {
                guard let partial = templates[use.name] else {
                    throw TemplateError(
                        template: template.name, line: use.line,
                        problem: "the partial {{> \(use.name)}} names no template")
                }
                guard partial.contentType == template.contentType else {
                    throw TemplateError(
                        template: template.name, line: use.line,
                        problem:
                            "the partial {{> \(use.name)}} is \(partial.contentType.rawValue), this template \(template.contentType.rawValue)"
                    )
                }
            }
        }
    }

    /// Renders the template `name` with `values` at the bottom of the context stack.
    ///
    /// A list's element goes on the stack while a section's body renders for it; a name is looked up from the top of
    /// the stack down (in the records on it), `a.b` looks up `a` that way and then `b` inside it, and `.` is the top
    /// value. Variables write text; sections take flags and lists (see `TemplateValue`).
    /// - Returns: the text, or nil when no template is registered as `name`.
    /// - Throws: `TemplateError` naming the template, the line and the tag where a name has no value, a variable's
    ///   value is not text, a section's value is neither a flag nor a list, or a written value holds what the
    ///   template's content type refuses; and what `check()` throws, whether or not these values would reach it.
    public func render(_ values: [String: TemplateValue], withTemplate name: String) throws(TemplateError) -> String? {
        guard let template = templates[name] else { return nil }
        try check()
        var output = ""
        try render(template.nodes, of: template, stack: [.record(values)], indentation: "", into: &output)
        return output
    }

    /// Appends `nodes` (of `template`) rendered to `output`; text written where `output` is at the start of a line
    /// is indented by `indentation` (the blanks before the standalone partials being rendered).
    private func render(
        _ nodes: [Node], of template: Template, stack: [TemplateValue], indentation: String,
        into output: inout String
    ) throws(TemplateError) {
        func write(_ text: String) {
            if !indentation.isEmpty, !text.isEmpty, output.utf8.last == UInt8(ascii: "\n") { output += indentation }
            output += text
        }
        func fail(_ line: Int, _ problem: String) -> TemplateError {
            TemplateError(template: template.name, line: line, problem: problem)
        }
        for node in nodes {
            switch node {
            case .text(let text):
                write(text)
            case .variable(let name, let line):
                let tag = "{{\(Self.written(name))}}"
                guard let value = Self.lookUp(name, in: stack) else { throw fail(line, "\(tag) names no value") }
                guard case .text(let text) = value else {
                    throw fail(line, "\(tag) is \(value.kind): a variable writes text only")
                }
                if let refusal = template.contentType.refusal(of: text) { throw fail(line, "\(tag): \(refusal)") }
                write(text)
            case .section(let name, let inverted, let body, let line):
                let tag = "{{\(inverted ? "^" : "#")\(Self.written(name))}}"
                guard let value = Self.lookUp(name, in: stack) else { throw fail(line, "\(tag) names no value") }
                let passes: [[TemplateValue]]
                switch value {
                case .flag(let on): passes = on != inverted ? [[]] : []
                case .list(let elements): passes = inverted ? (elements.isEmpty ? [[]] : []) : elements.map { [$0] }
                case .text, .record: throw fail(line, "\(tag) is \(value.kind): a section takes a flag or a list")
                }
                for pushed in passes {
                    try render(body, of: template, stack: stack + pushed, indentation: indentation, into: &output)
                }
            case .partial(let name, let partialIndentation):
                // Every partial is registered: `render(_:withTemplate:)` checked before rendering.
                if let partial = templates[name] {
                    try render(
                        partial.nodes, of: partial, stack: stack, indentation: indentation + partialIndentation,
                        into: &output)
                }
            }
        }
    }

    /// The value of a dotted name (no components: `.`), or nil when it is not found. Only the first component
    /// walks down the stack; the others are looked up in what it found.
    private static func lookUp(_ name: [String], in stack: [TemplateValue]) -> TemplateValue? {
        guard let first = name.first else { return stack.last }
        guard var value = stack.reversed().lazy.compactMap({ child(first, of: $0) }).first else { return nil }
        for component in name.dropFirst() {
            guard let next = child(component, of: value) else { return nil }
            value = next
        }
        return value
    }

    private static func child(_ name: String, of value: TemplateValue) -> TemplateValue? {
        if case .record(let names) = value { names[name] } else { nil }
    }

    /// A name as the template writes it.
    private static func written(_ name: [String]) -> String { name.isEmpty ? "." : name.joined(separator: ".") }
}

/// A `{{> name}}` and the line it is on.
struct PartialUse: Sendable, Equatable {
    var name: String
    var line: Int
}

/// A template's parsed content.
indirect enum Node: Sendable {
    case text(String)
    /// A dotted name split at its dots (`.` has none); `line`: where its tag is.
    case variable(name: [String], line: Int)
    case section(name: [String], inverted: Bool, body: [Node], line: Int)
    /// `indentation`: the blanks before a standalone partial, empty otherwise.
    case partial(name: String, indentation: String)
}

// MARK: - Parsing, in three passes: the text cut into pieces (text and tags), standalone lines left out, sections nested.

extension Template {
    /// Text up to and including a line break or up to a tag; or a tag.
    private enum Piece {
        case text(String)
        case tag(Tag)

        var endsLine: Bool {
            if case .text(let text) = self { text.utf8.last == UInt8(ascii: "\n") } else { false }
        }
    }

    private struct Tag {
        enum Kind: Equatable {
            case variable, section, inverted, close, comment, partial, pragma(ContentType)

            /// A variable never stands alone: it writes something, or means to.
            var canStandAlone: Bool { if case .variable = self { false } else { true } }
        }

        var kind: Kind
        /// Trimmed; empty for comments and pragmas.
        var name: String
        var line: Int
        /// The blanks before a standalone partial.
        var indentation = ""

        /// How the tag opens a section: `#name` or `^name`.
        var sectionOpening: String { (kind == .inverted ? "^" : "#") + name }
    }

    /// Cuts `bytes` into text pieces (each ends at a line break at the latest) and tags.
    private static func pieces(of bytes: [UInt8], template: String) throws(TemplateError) -> [Piece] {
        let open = Array("{{".utf8)
        var pieces: [Piece] = []
        var line = 1
        var textStart = 0
        var index = 0
        func addText(upTo end: Int) {
            if end > textStart { pieces.append(.text(String(decoding: bytes[textStart..<end], as: UTF8.self))) }
        }
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                addText(upTo: index + 1)
                line += 1
                index += 1
                textStart = index
            } else if bytes[index...].starts(with: open) {
                addText(upTo: index)
                let triple = bytes[(index + 2)...].first == UInt8(ascii: "{")
                let close = Array((triple ? "}}}" : "}}").utf8)
                let contentStart = index + (triple ? 3 : 2)
                // A `{{` inside means that this tag's `}}` is missing (`{{domain} … {{next}}`); a comment may hold one.
                guard let contentEnd = firstIndex(of: close, in: bytes[contentStart...]),
                    bytes[contentStart...].first == UInt8(ascii: "!")
                        || firstIndex(of: open, in: bytes[contentStart..<contentEnd]) == nil
                else {
                    throw TemplateError(
                        template: template, line: line,
                        problem:
                            "a tag opened with \(triple ? "{{{" : "{{") is not closed with \(triple ? "}}}" : "}}")")
                }
                let content = bytes[contentStart..<contentEnd]
                pieces.append(
                    .tag(
                        try tag(
                            String(decoding: content, as: UTF8.self), triple: triple, line: line, template: template)))
                line += content.count(where: { $0 == UInt8(ascii: "\n") })
                index = contentEnd + close.count
                textStart = index
            } else {
                index += 1
            }
        }
        addText(upTo: bytes.count)
        return pieces
    }

    private static func firstIndex(of needle: [UInt8], in bytes: ArraySlice<UInt8>) -> Int? {
        bytes.indices.first { bytes[$0...].starts(with: needle) }
    }

    /// The tag whose text between the braces is `content`.
    private static func tag(_ content: String, triple: Bool, line: Int, template: String) throws(TemplateError) -> Tag {
        let written = triple ? "{{{\(content)}}}" : "{{\(content)}}"
        func fail(_ problem: String) -> TemplateError {
            TemplateError(template: template, line: line, problem: "\(written) \(problem)")
        }
        func named(_ kind: Tag.Kind, _ text: Substring) throws(TemplateError) -> Tag {
            let name = trimmed(text)
            guard kind == .partial ? isPartialName(name) : isValueName(name) else {
                throw fail("does not hold a valid name")
            }
            return Tag(kind: kind, name: name, line: line)
        }
        let unescaped = "is an unescaped variable; sbs never escapes, so write {{name}}"
        if triple { throw fail(unescaped) }
        switch content.first {
        case "!": return Tag(kind: .comment, name: "", line: line)
        case "%":
            guard let type = contentType(ofPragma: content.dropFirst()) else {
                throw fail("is not a known pragma: use {{% CONTENT_TYPE: TYPE}}, TYPE one of \(contentTypeNames)")
            }
            return Tag(kind: .pragma(type), name: "", line: line)
        case "#": return try named(.section, content.dropFirst())
        case "^": return try named(.inverted, content.dropFirst())
        case "/": return try named(.close, content.dropFirst())
        case ">": return try named(.partial, content.dropFirst())
        case "&": throw fail(unescaped)
        case "=", "<", "$":
            throw fail("is a Mustache tag that sbs does not support (set delimiters, blocks and parents)")
        default: return try named(.variable, Substring(content))
        }
    }

    /// The content type a pragma sets (`pragma`: its text after `%`), or nil for any other pragma.
    private static func contentType(ofPragma pragma: Substring) -> ContentType? {
        let parts = pragma.split(separator: ":", omittingEmptySubsequences: false).map(trimmed)
        guard parts.count == 2, parts[0] == "CONTENT_TYPE" else { return nil }
        return ContentType(rawValue: parts[1])
    }

    static let contentTypeNames = ContentType.allCases.map(\.rawValue).joined(separator: ", ")

    /// Without the blanks and line breaks around it.
    private static func trimmed(_ text: Substring) -> String {
        let isSpace = { (character: Character) in character == " " || character == "\t" || character.isNewline }
        return String(text.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }

    /// `.`, or words of letters, digits, `_` and `-` joined by dots.
    private static func isValueName(_ name: String) -> Bool {
        name == "."
            || name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { word in
                !word.isEmpty && word.utf8.allSatisfy { isNameByte($0) }
            }
    }

    /// A template's name: letters, digits, `_`, `-`, `.` and `/` (`nginx/_common-http.conf`).
    private static func isPartialName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { isNameByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") }
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// Leaves out each standalone line's blanks and line break (the Mustache spec's rule; as in swift-mustache, a
    /// tag at the very end of the template is standalone, one followed by blanks there is not). A standalone partial
    /// keeps the blanks before it, which also become its indentation.
    private static func removingStandaloneLines(_ pieces: [Piece]) -> [Piece] {
        var result: [Piece] = []
        var lineStart = pieces.startIndex
        for lineEnd in pieces.indices where pieces[lineEnd].endsLine || lineEnd == pieces.endIndex - 1 {
            let line = pieces[lineStart...lineEnd]
            lineStart = lineEnd + 1
            let tagIndices = line.indices.filter { if case .tag = line[$0] { true } else { false } }
            guard tagIndices.count == 1, let tagIndex = tagIndices.first, case .tag(var tag) = line[tagIndex],
                tag.kind.canStandAlone,
                line.allSatisfy({ if case .text(let text) = $0 { isBlank(text) } else { true } }),
                tagIndex == lineEnd || line[lineEnd].endsLine
            else {
                result += line
                continue
            }
            if tag.kind == .partial, tagIndex > line.startIndex, case .text(let blanks) = line[line.startIndex] {
                tag.indentation = blanks
                result.append(line[line.startIndex])
            }
            result.append(.tag(tag))
        }
        return result
    }

    /// Spaces and tabs, then perhaps a line break.
    private static func isBlank(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        if bytes.last == UInt8(ascii: "\n") { bytes = bytes.dropLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        return bytes.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    }

    /// Nests sections and drops comments: the template's nodes and its partials (`pieces`: after the declaration).
    private static func nest(_ pieces: ArraySlice<Piece>, template: String) throws(TemplateError) -> (
        [Node], [PartialUse]
    ) {
        func path(_ name: String) -> [String] { name == "." ? [] : name.split(separator: ".").map(String.init) }
        var open: [(tag: Tag, outer: [Node])] = []
        var nodes: [Node] = []
        var partials: [PartialUse] = []
        for piece in pieces {
            let tag: Tag
            switch piece {
            case .text(let text):
                nodes.append(.text(text))
                continue
            case .tag(let pieceTag):
                tag = pieceTag
            }
            switch tag.kind {
            case .variable:
                nodes.append(.variable(name: path(tag.name), line: tag.line))
            case .section, .inverted:
                open.append((tag, nodes))
                nodes = []
            case .close:
                guard let section = open.popLast() else {
                    throw TemplateError(
                        template: template, line: tag.line, problem: "{{/\(tag.name)}} closes no section")
                }
                guard section.tag.name == tag.name else {
                    throw TemplateError(
                        template: template, line: tag.line,
                        problem:
                            "{{/\(tag.name)}} does not close {{\(section.tag.sectionOpening)}} (line \(section.tag.line))"
                    )
                }
                nodes =
                    section.outer + [
                        .section(
                            name: path(tag.name), inverted: section.tag.kind == .inverted, body: nodes,
                            line: section.tag.line)
                    ]
            case .comment:
                break
            case .partial:
                nodes.append(.partial(name: tag.name, indentation: tag.indentation))
                partials.append(PartialUse(name: tag.name, line: tag.line))
            case .pragma:
                throw TemplateError(
                    template: template, line: tag.line,
                    problem: "{{% CONTENT_TYPE}} is declared again: only the first line declares it")
            }
        }
        if let section = open.last {
            throw TemplateError(
                template: template, line: section.tag.line,
                problem: "{{\(section.tag.sectionOpening)}} is never closed with {{/\(section.tag.name)}}")
        }
        return (nodes, partials)
    }
}
