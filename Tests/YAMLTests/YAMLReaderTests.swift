import Testing
import YAML

/// A document the reader must refuse, and where and why.
struct YAMLRefusal: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let line: Int
    let column: Int
    let message: String
    var testDescription: String { name }

    init(_ name: String, _ text: String, _ line: Int, _ column: Int, _ message: String) {
        self.name = name
        self.text = text
        self.line = line
        self.column = column
        self.message = message
    }
}

@Suite("YAML reader refusals")
struct YAMLRefusalTests {
    static let refusals: [YAMLRefusal] = [
        YAMLRefusal("tab indentation", "a:\n\tb: 1\n", 2, 1, "a tab indents this line: indent YAML with spaces"),
        YAMLRefusal(
            "tab before a list item", "a:\n  - x\n \t- y\n", 3, 2, "a tab indents this line: indent YAML with spaces"),
        YAMLRefusal(
            "tab in a block scalar", "a: |\n  x\n\tb\n", 3, 1,
            "a tab indents this line of a block scalar: indent YAML with spaces"),
        YAMLRefusal(
            "tab continuing a plain scalar", "a: x\n\ty\n", 2, 1, "a tab indents this line: indent YAML with spaces"),
        YAMLRefusal("anchor", "a: &x 1\n", 1, 4, "anchors (&name) are not supported"),
        YAMLRefusal("alias", "a: *x\n", 1, 4, "aliases (*name) are not supported"),
        YAMLRefusal("tag", "a: !!str 1\n", 1, 4, "tags (!name) are not supported"),
        YAMLRefusal("local tag", "- !foo x\n", 1, 3, "tags (!name) are not supported"),
        YAMLRefusal("directive", "%YAML 1.2\n---\na: 1\n", 1, 1, "directives (%YAML, %TAG) are not supported"),
        YAMLRefusal(
            "second document", "a: 1\n---\nb: 2\n", 2, 1, "a second document is not supported: a file holds one"),
        YAMLRefusal(
            "content after the end marker", "a: 1\n...\nb: 2\n", 3, 1,
            "a second document is not supported: a file holds one"),
        YAMLRefusal("explicit key", "? a\n: b\n", 1, 1, "complex keys ('? ') are not supported"),
        YAMLRefusal("explicit key in brackets", "{? a: b}\n", 1, 2, "complex keys ('? ') are not supported"),
        YAMLRefusal(
            "list as a key", "[a, b]: c\n", 1, 1, "a list or mapping cannot be a key (complex keys are not supported)"),
        YAMLRefusal(
            "list as a key in brackets", "{[a]: b}\n", 1, 2,
            "a list or mapping cannot be a key (complex keys are not supported)"),
        YAMLRefusal("duplicate key", "a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first at line 1, column 1)"),
        YAMLRefusal(
            "duplicate key, once quoted", "a: 1\n'a': 2\n", 2, 1, "duplicate key 'a' (first at line 1, column 1)"),
        YAMLRefusal(
            "duplicate key in brackets", "x: {a: 1, a: 2}\n", 1, 11, "duplicate key 'a' (first at line 1, column 5)"),
        YAMLRefusal(
            "duplicate nested key", "top:\n  k: 1\n  k: 2\n", 3, 3, "duplicate key 'k' (first at line 2, column 3)"),
        YAMLRefusal(
            "key indented less than the one above", "a:\n    b: 1\n  c: 2\n", 3, 3,
            "bad indentation of a mapping entry: its key is not under the keys above"),
        YAMLRefusal(
            "key indented under a value", "a: 1\n  b: 2\n", 2, 4,
            "bad indentation of a mapping entry: its key is indented more than the keys above"),
        YAMLRefusal(
            "list item indented more", "- 'a'\n  - b\n", 2, 3,
            "bad indentation of a list item: its '-' is not under the ones above"),
        YAMLRefusal(
            "list item after a mapping entry", "key: value\n- item\n", 2, 1,
            "a list item cannot follow a mapping entry at the same indentation"),
        YAMLRefusal(
            "mapping entry after a top-level list", "- a\nb: 1\n", 2, 1,
            "unexpected content after the document's top-level value (check the indentation)"),
        YAMLRefusal(
            "key over two lines", "a\n  b: 1\n", 2, 4,
            "bad indentation: this ':' would end a key that spans several lines"),
        YAMLRefusal(
            "mapping on its key's line", "a: b: c\n", 1, 5,
            "a mapping cannot start on the line of its key: put its entries on the lines below"),
        YAMLRefusal(
            "list on its key's line", "a: - b\n", 1, 4,
            "a list cannot start on the line of its key: put its items on the lines below"),
        YAMLRefusal("missing key", ": x\n", 1, 1, "a key is missing before ':'"),
        YAMLRefusal(
            "key without a colon", "a: 1\nb\n", 2, 1,
            "expected 'key: value' at this indentation, found no ':' after the key"),
        YAMLRefusal(
            "unterminated double quote", "a: \"x\n", 1, 4,
            "unterminated double-quoted value: this quote has no closing one"),
        YAMLRefusal(
            "unterminated single quote", "a: 'x\nb: 2\n", 1, 4,
            "unterminated single-quoted value: this quote has no closing one"),
        YAMLRefusal(
            "document marker inside quotes", "a: 'x\n---\n'\n", 1, 4,
            "unterminated single-quoted value: this quote has no closing one"),
        YAMLRefusal(
            "unterminated flow sequence", "a: [1, 2\n", 1, 4, "unterminated flow sequence: this '[' has no ']'"),
        YAMLRefusal("unterminated flow mapping", "a: {b: 1\n", 1, 4, "unterminated flow mapping: this '{' has no '}'"),
        YAMLRefusal(
            "missing comma", "a: [b c: d, \"e\" f]\n", 1, 17,
            "expected ',' or ']' in the list opened at line 1, column 4"),
        YAMLRefusal(
            "missing comma in a mapping", "a: {b: \"1\" c: 2}\n", 1, 12,
            "expected ',' or '}' in the mapping opened at line 1, column 4"),
        YAMLRefusal("invalid escape", "a: \"\\q\"\n", 1, 5, "invalid escape '\\q' in a double-quoted value"),
        YAMLRefusal(
            "short hexadecimal escape", "a: \"\\x4G\"\n", 1, 5, "invalid escape '\\x4G': \\x takes 2 hexadecimal digits"
        ),
        YAMLRefusal("surrogate escape", "a: \"\\uD800\"\n", 1, 5, "invalid escape '\\uD800': not a Unicode character"),
        YAMLRefusal(
            "escape beyond Unicode", "a: \"\\U00110000\"\n", 1, 5,
            "invalid escape '\\U00110000': not a Unicode character"),
        YAMLRefusal(
            "block scalar header", "a: |x\n  y\n", 1, 5,
            "'|' may be followed only by '+' or '-', a digit from 1 to 9 and a comment on its line"),
        YAMLRefusal(
            "zero indentation digit", "a: >0\n  y\n", 1, 5, "a block scalar's indentation digit must be from 1 to 9"),
        YAMLRefusal("text after a quoted value", "a: 'x' y\n", 1, 8, "unexpected text after the value"),
        YAMLRefusal("reserved indicator", "a: @x\n", 1, 4, "a plain value cannot start with '@': quote it"),
        YAMLRefusal(
            "control character", "a: b\u{07}\n", 1, 5,
            "control character U+0007 is not allowed: write it as an escape in double quotes"),
        YAMLRefusal(
            "flow nesting deeper than 100", String(repeating: "[", count: 101) + String(repeating: "]", count: 101),
            1, 101, "collections are nested deeper than 100 levels"),
        YAMLRefusal(
            "block nesting deeper than 100", (0...100).map { String(repeating: "  ", count: $0) + "a:\n" }.joined(),
            101, 201, "collections are nested deeper than 100 levels"),
    ]

    @Test(arguments: refusals)
    func isRefusedWithItsPosition(_ refusal: YAMLRefusal) {
        #expect(throws: YAMLSyntaxError(refusal.message, at: YAMLMark(line: refusal.line, column: refusal.column))) {
            try YAMLNode.parse(refusal.text)
        }
    }

    @Test func nestingUpToTheLimitIsRead() throws {
        let text = String(repeating: "[", count: 100) + "x" + String(repeating: "]", count: 100)
        var node = try #require(try YAMLNode.parse(text))
        for _ in 0..<100 { node = try #require(node.sequence?.first) }
        #expect(node.string == "x")
        #expect(throws: YAMLSyntaxError.self) { try YAMLNode.parse("[[[x]]]", maximumDepth: 2) }
    }

    /// A hostile file nests far deeper than the stack could follow; the limit stops it first.
    @Test func aHostileNestingIsRefusedWithoutExhaustingTheStack() {
        let text = String(repeating: "- ", count: 100_000) + "x"
        #expect(throws: YAMLSyntaxError.self) { try YAMLNode.parse(text) }
        #expect(throws: YAMLSyntaxError.self) { try YAMLNode.parse(String(repeating: "{a: ", count: 100_000)) }
    }
}

@Suite("YAML reader values")
struct YAMLValueTests {
    func scalar(_ text: String) throws -> YAMLScalar {
        let node = try #require(try YAMLNode.parse("v: " + text + "\n"))
        return try #require(node.mapping?["v"]?.scalar)
    }

    @Test func plainScalarsResolveByTheCoreSchema() throws {
        let expected: [(String, YAMLScalar.Value)] = [
            ("~", .null), ("null", .null), ("NULL", .null), ("", .null), ("true", .bool(true)), ("False", .bool(false)),
            ("42", .int(42)), ("-7", .int(-7)), ("+3", .int(3)), ("0o17", .int(15)), ("0x1F", .int(31)),
            ("1.5", .float(1.5)), ("-.5", .float(-0.5)), ("1e3", .float(1000)), ("2.", .float(2)),
            (".inf", .float(.infinity)),
            ("-.Inf", .float(-.infinity)),
            // YAML 1.1 words and other near misses stay text under the 1.2 core schema.
            ("yes", .string("yes")), ("off", .string("off")), ("0x", .string("0x")), ("1_000", .string("1_000")),
            ("inf", .string("inf")), ("0x1p3", .string("0x1p3")), ("1e", .string("1e")),
            ("llama3.1:8b", .string("llama3.1:8b")),
        ]
        for (text, value) in expected {
            #expect(try scalar(text).value == value, "\(text)")
        }
        if case .float(let nan) = try scalar(".nan").value {
            #expect(nan.isNaN)
        } else {
            Issue.record(".nan is not a float")
        }
    }

    @Test func onlyPlainScalarsAreResolved() throws {
        for text in ["'true'", "\"42\"", "'~'", "|\n  null", ">\n  1.5"] {
            let value = try scalar(text)
            #expect(value.value == .string(value.string), "\(text)")
            #expect(!value.isNull)
        }
        #expect(try scalar("'true'").style == .singleQuoted)
        #expect(try scalar("\"42\"").style == .doubleQuoted)
        #expect(try scalar("|\n  null").style == .literal)
        #expect(try scalar(">\n  1.5").style == .folded)
        #expect(try scalar("true").style == .plain)
        #expect(try scalar("").isNull)
    }

    @Test func accessorsAndMarks() throws {
        let node = try #require(try YAMLNode.parse("# top\nsteps:\n  - id: a\n    needs: [b, c]\n"))
        let mapping = try #require(node.mapping)
        #expect(mapping.map { $0.key.string } == ["steps"])
        let step = try #require(mapping["steps"]?.sequence?.first?.mapping)
        #expect(step.mark == YAMLMark(line: 3, column: 5))
        #expect(step["id"]?.string == "a")
        #expect(step["id"]?.mark == YAMLMark(line: 3, column: 9))
        #expect(step["needs"]?.sequence?.compactMap(\.string) == ["b", "c"])
        #expect(step["needs"]?.mark.description == "4:12")
        #expect(step["needs"]?.string == nil)
        #expect(node.sequence == nil && node.scalar == nil)
    }

    @Test func aFileWithoutADocumentIsNil() throws {
        #expect(try YAMLNode.parse("") == nil)
        #expect(try YAMLNode.parse("# only a comment\n\n") == nil)
        #expect(try YAMLNode.parse("---\n")?.scalar?.isNull == true)
    }

    @Test func syntaxErrorsDescribeTheirPosition() {
        #expect(YAMLSyntaxError("oops", at: YAMLMark(line: 2, column: 7)).description == "line 2, column 7: oops")
    }
}

@Suite("YAMLReader problems")
struct YAMLReaderProblemTests {
    @Test func syntaxErrorsAndEmptyFilesAreProblemsWithPositions() {
        let reader = YAMLReader(file: "x.yaml")
        #expect(reader.parse("a: 1\na: 2\n") == nil)
        #expect(reader.parse("  # nothing\n") == nil)
        #expect(reader.parse("a: [b\n") == nil)
        #expect(
            reader.problems.map(\.description) == [
                "x.yaml:2:1: YAML syntax error: duplicate key 'a' (first at line 1, column 1)",
                "x.yaml:1:1: the file is empty",
                "x.yaml:1:4: YAML syntax error: unterminated flow sequence: this '[' has no ']'",
            ])
    }

    @Test func typedValuesAreCheckedByTheirStyle() throws {
        let reader = YAMLReader(file: "x.yaml")
        let root = try #require(reader.parse("a: 0.25\nb: 3\nc: '0.5'\nd: true\ne: 'true'\nf: [x]\ng: .nan\n"))
        let map = reader.mapping(root, path: "", allowed: ["a", "b", "c", "d", "e", "f", "g"])
        #expect(map["a"].flatMap { reader.number($0, path: "a") } == 0.25)
        #expect(map["b"].flatMap { reader.number($0, path: "b") } == 3)
        #expect(map["c"].flatMap { reader.number($0, path: "c") } == nil)
        #expect(map["d"].flatMap { reader.bool($0, path: "d") } == true)
        #expect(map["e"].flatMap { reader.bool($0, path: "e") } == nil)
        #expect(map["f"].flatMap { reader.list($0, path: "f") }?.count == 1)
        #expect(map["a"].flatMap { reader.list($0, path: "a") } == nil)
        #expect(map["g"].flatMap { reader.number($0, path: "g") } == nil)
        #expect(
            reader.problems.map(\.description) == [
                "x.yaml:3:4: 'c' must be a number, not '0.5'",
                "x.yaml:5:4: 'e' must be true or false, not 'true'",
                "x.yaml:1:4: 'a' must be a list",
                "x.yaml:7:4: 'g' must be a number, not '.nan'",
            ])
    }

    @Test func requiredFieldsAreReportedAtTheirMapping() throws {
        let reader = YAMLReader(file: "x.yaml")
        let root = try #require(reader.parse("top:\n  min: 1\n  maxx: 2\n"))
        let top = reader.fields(root, path: "", keys: ["top"])
        let fields = try #require(
            top.read("top") { node, path in reader.fields(node, path: path, keys: ["min", "max"]) })
        #expect(fields.int("min") == 1)
        #expect(fields.int("max") == nil)
        #expect(
            reader.problems.map(\.description) == [
                "x.yaml:3:3: unknown key 'top.maxx' (did you mean 'top.max'?)",
                "x.yaml:2:3: missing required field 'top.max'",
            ])
    }
}
