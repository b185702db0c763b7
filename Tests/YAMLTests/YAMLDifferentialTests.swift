import Foundation
import Testing
import YAML
import Yams

/// The tree as text: structure, scalar text and style, keys in order, and each node's line and column. Two
/// parsers agree on a document when they give the same text.
func outline(_ node: YAMLNode) -> String {
    let mark = "@\(node.mark.line):\(node.mark.column)"
    switch node {
    case .scalar(let scalar): return "\(scalar.style)\(mark)\(String(reflecting: scalar.string))"
    case .sequence(let sequence): return "[\(mark) " + sequence.map(outline).joined(separator: ", ") + "]"
    case .mapping(let mapping):
        return "{\(mark) " + mapping.map { "\(outline($0.key)): \(outline($0.value))" }.joined(separator: ", ") + "}"
    }
}

/// Yams' tree in the same form.
func outline(_ node: Yams.Node) -> String {
    let mark = node.mark.map { "@\($0.line):\($0.column)" } ?? "@?"
    switch node {
    case .scalar(let scalar):
        let style: YAMLScalar.Style? =
            switch scalar.style {
            case .plain: .plain
            case .singleQuoted: .singleQuoted
            case .doubleQuoted: .doubleQuoted
            case .literal: .literal
            case .folded: .folded
            case .any: nil
            }
        return "\(style.map { "\($0)" } ?? "any")\(mark)\(String(reflecting: scalar.string))"
    case .sequence(let sequence): return "[\(mark) " + sequence.map(outline).joined(separator: ", ") + "]"
    case .mapping(let mapping):
        return "{\(mark) " + mapping.map { "\(outline($0.key)): \(outline($0.value))" }.joined(separator: ", ") + "}"
    case .alias: return "alias"
    }
}

/// Both readings of `text`, each as its outline, `empty` or `error`.
func readings(_ text: String) -> (reader: String, yams: String) {
    func reading<Node>(_ parse: () throws -> Node?, _ outline: (Node) -> String) -> String {
        do { return try parse().map(outline) ?? "empty" } catch { return "error" }
    }
    return (reading({ try YAMLNode.parse(text) }, outline), reading({ try Yams.compose(yaml: text) }, outline))
}

/// A document with a name for the test report.
struct YAMLSample: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    var testDescription: String { name }

    init(_ name: String, _ text: String) {
        self.name = name
        self.text = text
    }
}

@Suite("YAML reader against Yams")
struct YAMLDifferentialTests {
    /// Every construct the reader supports, written by hand.
    static let handWritten: [YAMLSample] = [
        YAMLSample("block mapping", "a: 1\nb: two\n"),
        YAMLSample(
            "nested block mappings and sequences",
            """
            a:
              b: c
              d:
                - e
                - f: g
                  h: i
              j: k
            """),
        YAMLSample("sequence at its key's indentation", "a:\n- x\n- y\nb: z\n"),
        YAMLSample("sequence at its key's indentation in a list item", "- key:\n  - a\n  other: b\n"),
        YAMLSample("list items holding mappings", "- a: 1\n  b: 2\n- c: 3\n"),
        YAMLSample("compact nested sequences", "- - a\n  - b\n- - c\n"),
        YAMLSample("items on the lines below their dash", "-\n  a: 1\n-\n  - x\n"),
        YAMLSample("indented top level", "  a: 1\n  b: 2\n"),
        YAMLSample("deeper indentation", "a:\n    b: 1\n    c: 2\nd: 3\n"),
        YAMLSample("empty values", "key:\nother: ~\nlist:\n- \n-\n- a\n"),
        YAMLSample(
            "plain scalars with ':' and '#'",
            "url: http://example.com:8080/x#frag\nmodel: llama3.1:8b\ntag: a#b\nc: x # comment\nd: a:b\n"),
        YAMLSample("plain scalars starting with indicators", "a: -1\nb: -x\nc: :x\nd: ?x\ne: x?\n"),
        YAMLSample("core schema scalars", "x: 1.5e3\ny: 0x1F\nz: ~\nw: null\nv: true\nu: 0o17\nt: +1\ns: .5\n"),
        YAMLSample("multi-line plain scalar", "plain: this is\n  a multi line\n  \n  plain scalar\nnext: 1\n"),
        YAMLSample("multi-line plain scalar in a list", "- a\n b\n- c\n"),
        YAMLSample("plain scalar with inner blanks", "a: a    b\nb: a \t b\n"),
        YAMLSample("single quotes", "s: 'it''s'\nt: ''\nu: '# not a comment'\n'quoted key': 1\n"),
        YAMLSample(
            "double-quote escapes",
            #"""
            d: "a\tb\n\"q\" \\ \/ \x41 \u00e9 \U0001F600 \0 \a \b \e \f \r \v \N \_ \L \P \ x"
            """#),
        YAMLSample("multi-line quoted scalars", "q: \"multi\n  line\n\n  quoted\"\ns: 'single\n  multi'\n"),
        YAMLSample("escaped line breaks", "a: \"a  \\\n   b\"\nb: \"a\\\n\n   b\"\nc: \"a \\\n b\"\n"),
        YAMLSample("blanks kept inside quotes", "a: \"  lead\"\nb: \"\n  x\n  \"\nc: '\n\n'\n"),
        YAMLSample("flow collections", "f: [a, b, {c: 1, d: [x, y]}, [], {}]\n"),
        YAMLSample(
            "flow collections over lines", "a: [\n  b,  # comment\n  c\n]\nd: {\n  e: 1,\n  f: [x, {g: h}]\n}\n"),
        YAMLSample("flow trailing commas and empty values", "a: [a, b, ]\nb: {a: 1, }\nc: {a, b: }\n"),
        YAMLSample("flow pairs and JSON-like keys", "a: [a: b, c]\nb: {\"a\":1}\nc: [\"a\":b]\n"),
        YAMLSample("flow plain scalars", "a: [a b, c d]\nb: {a: b c, d: e}\nc: [a\n  b, c]\n"),
        YAMLSample("deep flow nesting", "[[1, 2], [3, [4, [5]]]]\n"),
        YAMLSample("literal block scalar", "lit: |\n  line1\n   indented\n  line3\n\nafter: 1\n"),
        YAMLSample("folded block scalar", "fold: >\n  folded\n  text\n\n  para\n   more\n  end\n"),
        YAMLSample(
            "chomping indicators", "strip: |-\n  x\n\nkeep: |+\n  y\n\n\nclip: |\n  z\n\n\nfolded: >-\n  a\n  b\n"),
        YAMLSample("indentation indicator", "ind: |2\n    two extra\n  base\nlater: >1-\n  x\n"),
        YAMLSample(
            "block scalar with a comment and leading empty lines",
            "a: |   # comment\n\n  x\nb: |\n  x\n# comment\nc: 2\n"),
        YAMLSample(
            "folding of more-indented lines",
            "a: >\n\n folded\n line\n\n next\n line\n   * bullet\n\n   * list\n\n last\n"),
        YAMLSample("block scalars in a list", "- |\n  x\n- >\n  y\n  z\n- a: |\n    text\n  b: 1\n"),
        YAMLSample("block scalar at the end without a line break", "a: |\n  x\n  y"),
        YAMLSample("top-level block scalar", "--- |\n  foo\n"),
        YAMLSample("comments everywhere", "# head\na: b # c\n# d\n  # indented\ne: # on a key\n  - f # g\n\n# tail\n"),
        YAMLSample("document markers", "---\na: 1\n...\n"),
        YAMLSample("document end then comments", "a: x\n...\n# c\n"),
        YAMLSample("empty document after ---", "---\n"),
        YAMLSample("CRLF line ends", "a: 1\r\nb:\r\n  - x\r\n  - 'y\r\n  z'\r\nc: |\r\n  l1\r\n  l2\r\n"),
        YAMLSample("tab after a colon", "a:\tb\nk: [a,\tb]\n"),
        YAMLSample("non-ASCII text", "é: ü\nk: 日本語\n"),
        YAMLSample("space before the colon", "a : 1\n'b'  : 2\n"),
    ]

    @Test(arguments: handWritten)
    func handWrittenDocumentsReadAsYamsReadsThem(_ sample: YAMLSample) throws {
        let expected = try #require(try Yams.compose(yaml: sample.text))
        let actual = try #require(try YAMLNode.parse(sample.text))
        #expect(outline(actual) == outline(expected))
    }

    /// Random documents from `YAMLSampleWriter`; each failure names its seed.
    @Test func generatedDocumentsReadAsYamsReadsThem() {
        var failures = 0
        for seed in UInt64(0)..<2500 {
            var writer = YAMLSampleWriter(seed: seed)
            let text = writer.document()
            let (reader, yams) = readings(text)
            guard reader != yams || yams == "error" else { continue }
            failures += 1
            if failures <= 3 {
                Issue.record("seed \(seed):\n\(text)\nreader: \(reader)\nYams:   \(yams)")
            }
        }
        #expect(failures == 0)
    }

    @Test func generatedDocumentsWithCRLFLineEndsReadTheSame() {
        var failures = 0
        for seed in UInt64(10_000)..<10_300 {
            var writer = YAMLSampleWriter(seed: seed)
            let text = writer.document().replacingAll("\n", with: "\r\n")
            let (reader, yams) = readings(text)
            if reader != yams || yams == "error" {
                failures += 1
                if failures <= 3 { Issue.record("seed \(seed):\n\(text)\nreader: \(reader)\nYams:   \(yams)") }
            }
        }
        #expect(failures == 0)
    }

    /// The writer produces valid documents, so Yams must read every one: a writer gone wrong would otherwise
    /// leave the comparison above with nothing to compare.
    @Test func theGeneratorWritesDocumentsYamsReads() {
        let refused = (UInt64(0)..<500).filter { seed in
            var writer = YAMLSampleWriter(seed: seed)
            return (try? Yams.compose(yaml: writer.document())) == nil
        }
        #expect(refused.isEmpty, "seeds Yams refuses: \(refused.prefix(10))")
    }

    @Test func theRepositoryFilesReadAsYamsReadsThem() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        var files = ["assets/profiles.yaml"]
        for folder in ["steps", "examples", "scripts/test/stack"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: root + "/" + folder)
            files += names.filter { $0.hasSuffix(".yaml") }.sorted().map { folder + "/" + $0 }
        }
        #expect(files.count >= 18, "\(files)")
        for file in files {
            let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
            let (reader, yams) = readings(text)
            #expect(reader != "error", "\(file)")
            #expect(reader == yams, "\(file)")
        }
    }

    /// Yams counts the byte order mark as a column; the reader skips it, as editors do.
    @Test func aByteOrderMarkIsSkipped() throws {
        let node = try #require(try YAMLNode.parse("\u{FEFF}a: 1\n"))
        #expect(outline(node) == #"{@1:1 plain@1:1"a": plain@1:4"1"}"#)
        #expect(readings("\u{FEFF}a: 1\n").yams == #"{@1:2 plain@1:2"a": plain@1:5"1"}"#)
    }
}
