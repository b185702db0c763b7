@testable import Render
import SBSCore
import Testing

/// Renders `name` from a library holding `templates`.
private func render(_ templates: [String: String], _ name: String = "t", _ values: [String: Any] = [:]) throws -> String? {
    var library = TemplateLibrary()
    for (templateName, text) in templates { try library.register(text, named: templateName) }
    return try library.render(values, withTemplate: name)
}

/// Renders a single template named `t`.
private func render(_ text: String, _ values: [String: Any] = [:]) throws -> String? {
    try render(["t": text], "t", values)
}

@Suite("Mustache templates")
struct TemplateTests {
    @Test func standaloneLinesAreLeftOutWithTheirLineBreak() throws {
        let template = "a\n  {{#yes}}  \nb\n\t{{/yes}}\n{{! note }}\n{{% CONTENT_TYPE: TEXT}}\r\n {{^no}}\nc\n{{/no}}\nd\n"
        #expect(try render(template, ["yes": true]) == "a\nb\nc\nd\n")
        // Windows line breaks go with the line too.
        #expect(try render("{{#yes}}\r\nx\r\n{{/yes}}\r\n", ["yes": true]) == "x\r\n")
        // A tag at the very end of the template stands alone; followed by blanks there, it does not (swift-mustache).
        #expect(try render("x\n{{! end }}") == "x\n")
        #expect(try render("x\n{{! end }}  ") == "x\n  ")
    }

    @Test func linesWithMoreThanOneTagOrWithTextKeepTheirBlanks() throws {
        #expect(try render(" {{#yes}}x{{/yes}} \n", ["yes": true]) == " x \n")
        #expect(try render("{{#yes}}{{/yes}}\n", ["yes": true]) == "\n")
        #expect(try render("  {{#yes}} text\n{{/yes}}", ["yes": true]) == "   text\n")
        // A variable never stands alone, even when it renders as nothing.
        #expect(try render("  {{missing}}  \nz") == "    \nz")
        #expect(try render("a {{! note }} b\n") == "a  b\n")
    }

    @Test func sectionsOverEachKindOfValue() throws {
        #expect(try render("{{#on}}on{{/on}}{{#off}}off{{/off}}", ["on": true, "off": false]) == "on")
        #expect(try render("{{#list}}[{{.}}]{{/list}}", ["list": ["a", "b"]]) == "[a][b]")
        #expect(try render("{{#list}}[{{.}}]{{/list}}", ["list": [String]()]) == "")
        #expect(try render("{{#rows}}{{name}}={{value}};{{/rows}}",
                           ["rows": [["name": "A", "value": "1"], ["name": "B", "value": "2"]]]) == "A=1;B=2;")
        #expect(try render("{{#smtp}}{{host}}:{{port}}{{/smtp}}", ["smtp": ["host": "mail", "port": "587"]]) == "mail:587")
        // A string renders the section once with the string on top, even an empty one (as swift-mustache did).
        #expect(try render("{{#dir}}<{{.}}>{{/dir}}", ["dir": "/srv"]) == "</srv>")
        #expect(try render("{{#dir}}<{{.}}>{{/dir}}", ["dir": ""]) == "<>")
        #expect(try render("{{#missing}}never{{/missing}}") == "")
    }

    @Test func invertedSectionsRenderForNothingFalseAndEmptyLists() throws {
        let template = "{{^value}}shown{{/value}}"
        #expect(try render(template) == "shown")
        #expect(try render(template, ["value": false]) == "shown")
        #expect(try render(template, ["value": [String]()]) == "shown")
        #expect(try render(template, ["value": true]) == "")
        #expect(try render(template, ["value": ["a"]]) == "")
        #expect(try render(template, ["value": ""]) == "")
    }

    @Test func namesAreLookedUpFromTheInnermostSectionOutwards() throws {
        let values: [String: Any] = [
            "domain": "example.com", "name": "top",
            "outer": ["name": "outer", "inner": [["name": "first"], ["other": "x"]]],
        ]
        let template = "{{#outer}}{{#inner}}{{name}}@{{domain}};{{/inner}}{{/outer}}"
        #expect(try render(template, values) == "first@example.com;outer@example.com;")
        #expect(try render("{{outer.name}} {{outer.inner}}", ["outer": ["name": "x"]]) == "x ")
        // Only the first part of a dotted name walks outwards: `outer.domain` does not find the top-level domain.
        #expect(try render("[{{outer.domain}}]", values) == "[]")
        #expect(try render("[{{missing}}][{{missing.name}}]", values) == "[][]")
        #expect(try render("{{#production}}{{logLevel}}{{/production}}", ["production": true, "logLevel": "info"]) == "info")
    }

    @Test func variablesAreHTMLEscapedUnlessTheTemplateSaysText() throws {
        let values = ["v": "<a href='x'>&\"</a>"]
        #expect(try render("{{v}}|{{{v}}}|{{& v}}", values)
                == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;|<a href='x'>&\"</a>|<a href='x'>&\"</a>")
        #expect(try render("{{% CONTENT_TYPE: TEXT}}\n{{v}}", values) == "<a href='x'>&\"</a>")
        // The pragma holds from where it stands; a partial starts as HTML again, whatever includes it.
        #expect(try render("{{v}}\n{{%CONTENT_TYPE:TEXT}}\n{{v}}", values) == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;\n<a href='x'>&\"</a>")
        #expect(try render(["t": "{{% CONTENT_TYPE: TEXT}}\n{{> p}}", "p": "{{v}}"], "t", ["v": "<"]) == "&lt;")
        #expect(try render("{{% CONTENT_TYPE: TEXT}}\n{{% CONTENT_TYPE: HTML}}\n{{v}}", ["v": "<"]) == "&lt;")
    }

    @Test func partialsRenderWithTheCurrentContext() throws {
        let templates = ["t": "{{#smtp}}[{{> mail/_line.conf}}]{{/smtp}}", "mail/_line.conf": "{{host}} for {{domain}}"]
        #expect(try render(templates, "t", ["smtp": ["host": "mx"], "domain": "example.com"]) == "[mx for example.com]")
    }

    @Test func aStandalonePartialIsIndentedByTheBlanksBeforeIt() throws {
        let templates = [
            "t": "begin\n  {{> inner}}\nend\n",
            "inner": "one\n{{x}}\n{{#list}}\n- {{.}}\n{{/list}}\n\t{{> leaf}}\n",
            "leaf": "leaf\nleaf\n",
        ]
        #expect(try render(templates, "t", ["x": "X", "list": ["a", "b"]])
                == "begin\n  one\n  X\n  - a\n  - b\n  \tleaf\n  \tleaf\nend\n")
        // Not standalone: no indentation, and the line keeps its break.
        #expect(try render(["t": "> {{> leaf}}<\n", "leaf": "a\nb"]) == "> a\nb<\n")
    }

    @Test func commentsRenderNothing() throws {
        #expect(try render("a{{! one }}b\n{{!\nmany\n{ lines }\n}}\nc") == "ab\nc")
    }

    @Test func anUnknownTemplateNameRendersNil() throws {
        #expect(try render(["t": "x"], "other") == nil)
    }

    @Test(arguments: [
        ("a\n{{#x}}\nb\n", 2, "{{#x}} is never closed with {{/x}}"),
        ("{{#x}}\n{{^y}}\n{{/y}}\n", 1, "{{#x}} is never closed with {{/x}}"),
        ("{{#x}}\n{{/y}}\n", 2, "{{/y}} does not close {{#x}} (line 1)"),
        ("{{^x}}{{/y}}", 1, "{{/y}} does not close {{^x}} (line 1)"),
        ("a\n\n{{/y}}", 3, "{{/y}} closes no section"),
        ("a\nb {{name\n", 2, "a tag opened with {{ is not closed with }}"),
        ("{{domain} and\n{{x}}", 1, "a tag opened with {{ is not closed with }}"),
        ("{{{raw}}", 1, "a tag opened with {{{ is not closed with }}}"),
        ("{{!\n\n}}\n{{/x}}", 4, "{{/x}} closes no section"),
        ("{{a b}}", 1, "{{a b}} does not hold a valid name"),
        ("{{#}}", 1, "{{#}} does not hold a valid name"),
        ("{{a..b}}", 1, "{{a..b}} does not hold a valid name"),
        ("{{> }}", 1, "{{> }} does not hold a valid name"),
        ("{{% CONTENT_TYPE: JSON}}", 1, "{{% CONTENT_TYPE: JSON}} is not a known pragma: use {{% CONTENT_TYPE: TEXT}} or {{% CONTENT_TYPE: HTML}}"),
        ("{{=<% %>=}}", 1, "{{=<% %>=}} is a Mustache tag that sbs does not support (set delimiters, blocks and parents)"),
    ])
    func templatesThatDoNotParseAreErrorsWithTheirLine(_ text: String, _ line: Int, _ problem: String) {
        #expect(throws: TemplateError(template: "broken", line: line, problem: problem)) {
            var library = TemplateLibrary()
            try library.register(text, named: "broken")
        }
    }

    @Test func aPartialThatNamesNoTemplateIsAnErrorEvenWhereNoValueReachesIt() {
        let templates = ["t": "fine", "uses": "x\n{{#never}}\n{{> nginx/_missing.conf}}\n{{/never}}\n"]
        #expect(throws: TemplateError(template: "uses", line: 3, problem: "the partial {{> nginx/_missing.conf}} names no template")) {
            try render(templates, "t")
        }
    }

    @Test func theConfigRendererNamesTheBrokenTemplateAndLine() throws {
        let (input, secrets) = try GoldenCase.minimumBasic.input()
        let original = try Repository.templates().templates
        func renderWith(nginx: String) throws -> [RenderedFile] {
            var files = original
            files["nginx/nginx.conf.mustache"] = nginx
            return try ConfigRenderer.render(input, secrets: secrets, templates: TemplateSet(files: Dictionary(
                uniqueKeysWithValues: files.map { (TemplateSet.folder + $0.key, $0.value) })))
        }
        #expect(throws: UserError("The template assets/deploy/nginx/nginx.conf.mustache does not parse: nginx/nginx.conf, line 2: {{/smpt}} does not close {{#smtp}} (line 1)")) {
            try renderWith(nginx: "{{#smtp}}\n{{/smpt}}\n")
        }
        #expect(throws: UserError("The template assets/deploy/nginx/nginx.conf.mustache does not parse: nginx/nginx.conf, line 2: the partial {{> nginx/_commn-http.conf}} names no template")) {
            try renderWith(nginx: "{{% CONTENT_TYPE: TEXT}}\n{{> nginx/_commn-http.conf}}\n")
        }
    }
}
