// Mustache, as far as the templates under assets/deploy/ need it, with no Foundation: the deploy files must come out
// byte for byte as swift-mustache 2.1.1 rendered them (Tests/RenderTests/Golden/ holds that output).

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

/// Whether `{{name}}` is HTML-escaped, as the pragma `{{% CONTENT_TYPE: HTML}}` or `{{% CONTENT_TYPE: TEXT}}` says.
/// A template starts as HTML, a partial too, whatever the template that includes it says (as in swift-mustache).
enum ContentType: Sendable, Equatable {
    case html
    case text
}

/// A parsed Mustache template.
///
/// Tags: `{{name}}` (HTML-escaped unless the template says `{{% CONTENT_TYPE: TEXT}}`), `{{{name}}}` and `{{& name}}`
/// (never escaped), sections `{{#name}}…{{/name}}`, inverted sections `{{^name}}…{{/name}}`, partials
/// `{{> folder/name}}`, comments `{{! … }}` and that pragma. Set delimiters, blocks, parents and lambdas are refused.
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
    let nodes: [Node]
    /// Each `{{> name}}` with its line: a library checks that they name templates before it renders.
    let partials: [PartialUse]

    /// - Throws: `TemplateError` for a tag without its `}}`, a section that is not closed, a closing tag that does
    ///   not match the open section, a malformed name, an unknown pragma or a Mustache tag this renderer lacks.
    init(_ text: String, named name: String) throws(TemplateError) {
        self.name = name
        let pieces = try Self.pieces(of: Array(text.utf8), template: name)
        (nodes, partials) = try Self.nest(Self.removingStandaloneLines(pieces), template: name)
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

    /// Renders the template `name` with `values` at the bottom of the context stack.
    ///
    /// A section's value goes on the stack while its body renders; a name is looked up from the top of the stack
    /// down, `a.b` looks up `a` that way and then `b` inside it, and `.` is the top value. Dictionaries (`[String: Any]`)
    /// hold names; arrays repeat a section for each element (none when empty), `Bool` shows or hides it, and any
    /// other value (a string, even empty, a dictionary) renders it once. A name that is not found renders as nothing.
    /// A variable is written as `String(describing:)` of its value.
    /// - Returns: the text, or nil when no template is registered as `name`.
    /// - Throws: `TemplateError` when a registered template includes a partial that is not registered, whether or
    ///   not these values would reach it.
    public func render(_ values: [String: Any], withTemplate name: String) throws(TemplateError) -> String? {
        guard let template = templates[name] else { return nil }
        for template in templates.values.sorted(by: { $0.name < $1.name }) {
            for use in template.partials where templates[use.name] == nil {
                throw TemplateError(template: template.name, line: use.line,
                                    problem: "the partial {{> \(use.name)}} names no template")
            }
        }
        var output = ""
        render(template.nodes, stack: [values], contentType: .html, indentation: "", into: &output)
        return output
    }

    /// Appends `nodes` rendered to `output`; text written where `output` is at the start of a line is indented by
    /// `indentation` (the blanks before the standalone partials being rendered).
    private func render(_ nodes: [Node], stack: [Any], contentType: ContentType, indentation: String, into output: inout String) {
        var contentType = contentType
        func write(_ text: String) {
            if !indentation.isEmpty, !text.isEmpty, output.utf8.last == UInt8(ascii: "\n") { output += indentation }
            output += text
        }
        for node in nodes {
            switch node {
            case .text(let text):
                write(text)
            case .variable(let name, let escaped):
                guard let value = Self.lookUp(name, in: stack) else { continue }
                let text = String(describing: value)
                write(escaped && contentType == .html ? Self.htmlEscaped(text) : text)
            case .section(let name, let inverted, let body):
                for pushed in Self.sectionContexts(Self.lookUp(name, in: stack), inverted: inverted) {
                    render(body, stack: stack + pushed, contentType: contentType, indentation: indentation, into: &output)
                }
            case .partial(let name, let partialIndentation):
                // Every partial is registered: `render(_:withTemplate:)` checked before rendering.
                if let partial = templates[name] {
                    render(partial.nodes, stack: stack, contentType: .html, indentation: indentation + partialIndentation, into: &output)
                }
            case .contentType(let type):
                contentType = type
            }
        }
    }

    /// The value of a dotted name (no components: `.`), or nil when it is not found. Only the first component
    /// walks down the stack; the others are looked up in what it found.
    private static func lookUp(_ name: [String], in stack: [Any]) -> Any? {
        guard let first = name.first else { return stack.last }
        guard var value = stack.reversed().lazy.compactMap({ child(first, of: $0) }).first else { return nil }
        for component in name.dropFirst() {
            guard let next = child(component, of: value) else { return nil }
            value = next
        }
        return value
    }

    private static func child(_ name: String, of value: Any) -> Any? {
        (value as? [String: Any])?[name]
    }

    /// For each time a section with this value renders its body, what goes on the stack (swift-mustache's rules):
    /// an array's elements one by one; `true`: nothing, once; any other value (a string, even empty) once. An
    /// inverted section renders once for no value, `false` or an empty array (which goes on the stack).
    private static func sectionContexts(_ value: Any?, inverted: Bool) -> [[Any]] {
        switch value {
        case nil: inverted ? [[]] : []
        case let list as [Any]: inverted ? (list.isEmpty ? [[list]] : []) : list.map { [$0] }
        case let flag as Bool: flag != inverted ? [[]] : []
        case let value?: inverted ? [] : [[value]]
        }
    }

    /// The characters swift-mustache escapes, with its replacements.
    private static func htmlEscaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "&": result += "&amp;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

/// A `{{> name}}` and the line it is on.
struct PartialUse: Sendable, Equatable {
    var name: String
    var line: Int
}

/// A template's parsed content.
indirect enum Node: Sendable {
    case text(String)
    /// A dotted name split at its dots (`.` has none).
    case variable(name: [String], escaped: Bool)
    case section(name: [String], inverted: Bool, body: [Node])
    /// `indentation`: the blanks before a standalone partial, empty otherwise.
    case partial(name: String, indentation: String)
    case contentType(ContentType)
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
            case variable(escaped: Bool), section, inverted, close, comment, partial, pragma(ContentType)

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
                      bytes[contentStart...].first == UInt8(ascii: "!") || firstIndex(of: open, in: bytes[contentStart..<contentEnd]) == nil
                else {
                    throw TemplateError(template: template, line: line,
                                        problem: "a tag opened with \(triple ? "{{{" : "{{") is not closed with \(triple ? "}}}" : "}}")")
                }
                let content = bytes[contentStart..<contentEnd]
                pieces.append(.tag(try tag(String(decoding: content, as: UTF8.self), triple: triple, line: line, template: template)))
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
        func fail(_ problem: String) -> TemplateError { TemplateError(template: template, line: line, problem: "\(written) \(problem)") }
        func named(_ kind: Tag.Kind, _ text: Substring) throws(TemplateError) -> Tag {
            let name = trimmed(text)
            guard kind == .partial ? isPartialName(name) : isValueName(name) else { throw fail("does not hold a valid name") }
            return Tag(kind: kind, name: name, line: line)
        }
        if triple { return try named(.variable(escaped: false), Substring(content)) }
        switch content.first {
        case "!": return Tag(kind: .comment, name: "", line: line)
        case "%":
            guard let type = contentType(ofPragma: content.dropFirst()) else {
                throw fail("is not a known pragma: use {{% CONTENT_TYPE: TEXT}} or {{% CONTENT_TYPE: HTML}}")
            }
            return Tag(kind: .pragma(type), name: "", line: line)
        case "#": return try named(.section, content.dropFirst())
        case "^": return try named(.inverted, content.dropFirst())
        case "/": return try named(.close, content.dropFirst())
        case ">": return try named(.partial, content.dropFirst())
        case "&": return try named(.variable(escaped: false), content.dropFirst())
        case "=", "<", "$": throw fail("is a Mustache tag that sbs does not support (set delimiters, blocks and parents)")
        default: return try named(.variable(escaped: true), Substring(content))
        }
    }

    /// The content type a pragma sets (`pragma`: its text after `%`), or nil for any other pragma.
    private static func contentType(ofPragma pragma: Substring) -> ContentType? {
        let parts = pragma.split(separator: ":", omittingEmptySubsequences: false).map(trimmed)
        guard parts.count == 2, parts[0] == "CONTENT_TYPE" else { return nil }
        return switch parts[1] {
        case "TEXT": .text
        case "HTML": .html
        default: nil
        }
    }

    /// Without the blanks and line breaks around it.
    private static func trimmed(_ text: Substring) -> String {
        let isSpace = { (character: Character) in character == " " || character == "\t" || character.isNewline }
        return String(text.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }

    /// `.`, or words of letters, digits, `_` and `-` joined by dots.
    private static func isValueName(_ name: String) -> Bool {
        name == "." || name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { word in
            !word.isEmpty && word.utf8.allSatisfy { isNameByte($0) }
        }
    }

    /// A template's name: letters, digits, `_`, `-`, `.` and `/` (`nginx/_common-http.conf`).
    private static func isPartialName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { isNameByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") }
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"): true
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

    /// Nests sections and drops comments: the template's nodes and its partials.
    private static func nest(_ pieces: [Piece], template: String) throws(TemplateError) -> ([Node], [PartialUse]) {
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
            case .variable(let escaped):
                nodes.append(.variable(name: path(tag.name), escaped: escaped))
            case .section, .inverted:
                open.append((tag, nodes))
                nodes = []
            case .close:
                guard let section = open.popLast() else {
                    throw TemplateError(template: template, line: tag.line, problem: "{{/\(tag.name)}} closes no section")
                }
                guard section.tag.name == tag.name else {
                    throw TemplateError(template: template, line: tag.line,
                                        problem: "{{/\(tag.name)}} does not close {{\(section.tag.sectionOpening)}} (line \(section.tag.line))")
                }
                nodes = section.outer + [.section(name: path(tag.name), inverted: section.tag.kind == .inverted, body: nodes)]
            case .comment:
                break
            case .partial:
                nodes.append(.partial(name: tag.name, indentation: tag.indentation))
                partials.append(PartialUse(name: tag.name, line: tag.line))
            case .pragma(let type):
                nodes.append(.contentType(type))
            }
        }
        if let section = open.last {
            throw TemplateError(template: template, line: section.tag.line,
                                problem: "{{\(section.tag.sectionOpening)}} is never closed with {{/\(section.tag.name)}}")
        }
        return (nodes, partials)
    }
}
