import SBSCore
import Testing

@testable import Render

/// Renders `name` from a library holding `templates` (each declares its own content type).
private func render(_ templates: [String: String], _ name: String = "t", _ values: [String: TemplateValue] = [:]) throws
    -> String?
{
    var library = TemplateLibrary()
    for (templateName, text) in templates { try library.register(text, named: templateName) }
    return try library.render(values, withTemplate: name)
}

/// Renders a single template named `t`: `text` after the line `{{% CONTENT_TYPE: INI}}` (so `text`'s line 1 is the
/// template's line 2).
private func render(_ text: String, _ values: [String: TemplateValue] = [:]) throws -> String? {
    try render(["t": "{{% CONTENT_TYPE: INI}}\n" + text], "t", values)
}

/// The error rendering `text` (as `render(_:_:)` does) throws.
private func renderError(_ text: String, _ values: [String: TemplateValue] = [:]) -> TemplateError? {
    #expect(throws: TemplateError.self) { try render(text, values) }
}

@Suite("Mustache templates")
struct TemplateTests {
    @Test func standaloneLinesAreLeftOutWithTheirLineBreak() throws {
        let template = "a\n  {{#yes}}  \nb\n\t{{/yes}}\n{{! note }}\r\n {{^no}}\nc\n{{/no}}\nd\n"
        #expect(try render(template, ["yes": true, "no": false]) == "a\nb\nc\nd\n")
        // Windows line breaks go with the line too.
        #expect(try render("{{#yes}}\r\nx\r\n{{/yes}}\r\n", ["yes": true]) == "x\r\n")
        // A tag at the very end of the template stands alone; followed by blanks there, it does not (swift-mustache).
        #expect(try render("x\n{{! end }}") == "x\n")
        #expect(try render("x\n{{! end }}  ") == "x\n  ")
        // The declaration's line is left out too.
        #expect(try render(["t": "{{% CONTENT_TYPE: YAML}}\r\nkey: value\n"]) == "key: value\n")
    }

    @Test func linesWithMoreThanOneTagOrWithTextKeepTheirBlanks() throws {
        #expect(try render(" {{#yes}}x{{/yes}} \n", ["yes": true]) == " x \n")
        #expect(try render("{{#yes}}{{/yes}}\n", ["yes": true]) == "\n")
        #expect(try render("  {{#yes}} text\n{{/yes}}", ["yes": true]) == "   text\n")
        // A variable never stands alone, even when it writes nothing.
        #expect(try render("  {{empty}}  \nz", ["empty": ""]) == "    \nz")
        #expect(try render("a {{! note }} b\n") == "a  b\n")
    }

    @Test func sectionsTakeFlagsAndLists() throws {
        #expect(try render("{{#on}}on{{/on}}{{#off}}off{{/off}}", ["on": true, "off": false]) == "on")
        #expect(try render("{{#list}}[{{.}}]{{/list}}", ["list": ["a", "b"]]) == "[a][b]")
        #expect(try render("{{#list}}[{{.}}]{{/list}}", ["list": []]) == "")
        #expect(
            try render(
                "{{#rows}}{{name}}={{value}};{{/rows}}",
                ["rows": [["name": "A", "value": "1"], ["name": "B", "value": "2"]]]) == "A=1;B=2;")
        // An optional record is a list of zero or one.
        let mail = "{{#smtp}}{{host}}:{{port}}{{/smtp}}"
        #expect(try render(mail, ["smtp": .optional(["host": "mail", "port": .number(587)])]) == "mail:587")
        #expect(try render(mail, ["smtp": .optional(nil)]) == "")
    }

    @Test func invertedSectionsRenderForFalseAndEmptyLists() throws {
        let template = "{{^value}}shown{{/value}}"
        #expect(try render(template, ["value": false]) == "shown")
        #expect(try render(template, ["value": []]) == "shown")
        #expect(try render(template, ["value": true]) == "")
        #expect(try render(template, ["value": ["a"]]) == "")
    }

    @Test func namesAreLookedUpFromTheInnermostSectionOutwards() throws {
        let values: [String: TemplateValue] = [
            "domain": "example.com", "name": "top",
            "outer": [["name": "outer", "inner": [["name": "first"], ["other": "x"]]]],
            "record": ["name": "x", "nested": ["deep": "y"]],
        ]
        let template = "{{#outer}}{{#inner}}{{name}}@{{domain}};{{/inner}}{{/outer}}"
        #expect(try render(template, values) == "first@example.com;outer@example.com;")
        #expect(try render("{{record.name}} {{record.nested.deep}}", values) == "x y")
        #expect(
            try render("{{#production}}{{logLevel}}{{/production}}", ["production": true, "logLevel": "info"]) == "info"
        )
    }

    @Test func aNameWithoutAValueIsAnErrorNamingTheTemplateTheLineAndTheTag() throws {
        let values: [String: TemplateValue] = [
            "domain": "example.com", "record": ["name": "x"], "list": [["name": "y"]],
        ]
        #expect(
            renderError("a\n{{domian}}\n", values)
                == TemplateError(template: "t", line: 3, problem: "{{domian}} names no value"))
        #expect(
            renderError("{{#smpt}}\nx\n{{/smpt}}", values)
                == TemplateError(template: "t", line: 2, problem: "{{#smpt}} names no value"))
        #expect(
            renderError("\n\n{{^smpt}}x{{/smpt}}", values)
                == TemplateError(template: "t", line: 4, problem: "{{^smpt}} names no value"))
        // Only the first part of a dotted name walks outwards: `record.domain` does not find the top-level domain.
        #expect(
            renderError("{{record.domain}}", values)
                == TemplateError(template: "t", line: 2, problem: "{{record.domain}} names no value"))
        #expect(
            renderError("{{#list}}\n{{nmae}}\n{{/list}}", values)
                == TemplateError(template: "t", line: 3, problem: "{{nmae}} names no value"))
        // In a partial: the partial and its own line.
        let templates = ["t": "{{% CONTENT_TYPE: INI}}\n{{> p}}\n", "p": "{{% CONTENT_TYPE: INI}}\nok\n{{hots}}\n"]
        #expect(throws: TemplateError(template: "p", line: 3, problem: "{{hots}} names no value")) {
            try render(templates, "t", values)
        }
        // A section that does not render is not looked into.
        #expect(try render("{{#list}}{{name}}{{/list}}{{^list}}{{missing}}{{/list}}", values) == "y")
    }

    @Test func aValueOfTheWrongKindForItsTagIsAnError() {
        let values: [String: TemplateValue] = ["flag": true, "list": ["a"], "record": ["name": "x"], "text": "t"]
        #expect(renderError("{{flag}}", values)?.problem == "{{flag}} is a flag: a variable writes text only")
        #expect(renderError("{{list}}", values)?.problem == "{{list}} is a list: a variable writes text only")
        #expect(renderError("{{record}}", values)?.problem == "{{record}} is a record: a variable writes text only")
        #expect(renderError("{{.}}", values)?.problem == "{{.}} is a record: a variable writes text only")
        #expect(
            renderError("{{#text}}x{{/text}}", values)?.problem == "{{#text}} is text: a section takes a flag or a list"
        )
        #expect(
            renderError("{{^record}}x{{/record}}", values)?.problem
                == "{{^record}} is a record: a section takes a flag or a list")
    }

    @Test func valuesAreWrittenAsTheyAreNeverEscaped() throws {
        #expect(
            try render(["t": "{{% CONTENT_TYPE: YAML}}\nurl: \"{{v}}\"\n"], "t", ["v": "https://a.example/?x=1&y=<2>"])
                == "url: \"https://a.example/?x=1&y=<2>\"\n")
        #expect(
            try render(["t": "{{% CONTENT_TYPE: ENV}}\nK='{{v}}'\n"], "t", ["v": "$HOME #x \"y\" \\z {}"])
                == "K='$HOME #x \"y\" \\z {}'\n")
    }

    @Test(arguments: [
        (ContentType.yaml, "a\"b", "`\"`"), (.yaml, "a'b", "`'`"), (.yaml, "a\\b", "`\\`"), (.yaml, "a #b", "`#`"),
        (.yaml, "${X}", "`$`"),
        (.nginx, "a;b", "`;`"), (.nginx, "a{b", "`{`"), (.nginx, "a}b", "`}`"), (.nginx, "$host", "`$`"),
        (.nginx, "a\"b", "`\"`"),
        (.nginx, "a#b", "`#`"), (.env, "it's", "`'`"), (.ini, "a;b", "`;`"), (.ini, "a#b", "`#`"),
        (.ini, "$__env{X}", "`$`"),
    ])
    func eachContentTypeRefusesTheCharactersThatWouldChangeItsFile(
        _ type: ContentType, _ value: String, _ shown: String
    ) {
        let text = "{{% CONTENT_TYPE: \(type.rawValue)}}\nfine {{ok}}\nkey {{v}}\n"
        #expect(
            throws: TemplateError(
                template: "t", line: 3,
                problem:
                    "{{v}}: the value holds \(shown), which \(type.rawValue) templates cannot carry (values are written as they are, never escaped)"
            )
        ) {
            try render(["t": text], "t", ["v": .text(value), "ok": "a-b_c.d/e:f@g"])
        }
    }

    @Test(arguments: ContentType.allCases)
    func noContentTypeTakesALineBreakInAValue(_ type: ContentType) throws {
        let text = "{{% CONTENT_TYPE: \(type.rawValue)}}\n{{v}}\n"
        let expected =
            type.refusedCharacters == nil
            ? "{{v}}: \(type.rawValue) templates take no values (sbs has no quoting rules for \(type.rawValue))"
            : "{{v}}: the value holds a control character (U+000A), which \(type.rawValue) templates cannot carry"
        #expect(throws: TemplateError(template: "t", line: 2, problem: expected)) {
            try render(["t": text], "t", ["v": "a\nINJECTED=1"])
        }
        if type.refusedCharacters != nil {
            #expect(try render(["t": text], "t", ["v": "plain-value_1.2:3/4@5"]) == "plain-value_1.2:3/4@5\n")
        }
    }

    @Test func sqlAndShellTemplatesTakeSectionsButNoValues() throws {
        #expect(
            try render(["t": "{{% CONTENT_TYPE: SHELL}}\n{{#on}}\nset -eu\n{{/on}}\n"], "t", ["on": true])
                == "set -eu\n")
        #expect(
            throws: TemplateError(
                template: "t", line: 2,
                problem: "{{v}}: SQL templates take no values (sbs has no quoting rules for SQL)")
        ) {
            try render(["t": "{{% CONTENT_TYPE: SQL}}\nSELECT '{{v}}';\n"], "t", ["v": "x"])
        }
    }

    @Test func partialsRenderWithTheCurrentContext() throws {
        let templates = [
            "t": "{{% CONTENT_TYPE: NGINX}}\n{{#smtp}}[{{> mail/_line.conf}}]{{/smtp}}",
            "mail/_line.conf": "{{% CONTENT_TYPE: NGINX}}\n{{host}} for {{domain}}",
        ]
        #expect(
            try render(templates, "t", ["smtp": .optional(["host": "mx"]), "domain": "example.com"])
                == "[mx for example.com]")
    }

    @Test func aPartialOfAnotherContentTypeIsAnError() {
        let templates = ["t": "{{% CONTENT_TYPE: YAML}}\na: b\n{{> p}}\n", "p": "{{% CONTENT_TYPE: NGINX}}\nx;\n"]
        #expect(
            throws: TemplateError(template: "t", line: 3, problem: "the partial {{> p}} is NGINX, this template YAML")
        ) {
            try render(templates, "t")
        }
    }

    @Test func aStandalonePartialIsIndentedByTheBlanksBeforeIt() throws {
        let templates = [
            "t": "{{% CONTENT_TYPE: INI}}\nbegin\n  {{> inner}}\nend\n",
            "inner": "{{% CONTENT_TYPE: INI}}\none\n{{x}}\n{{#list}}\n- {{.}}\n{{/list}}\n\t{{> leaf}}\n",
            "leaf": "{{% CONTENT_TYPE: INI}}\nleaf\nleaf\n",
        ]
        #expect(
            try render(templates, "t", ["x": "X", "list": ["a", "b"]])
                == "begin\n  one\n  X\n  - a\n  - b\n  \tleaf\n  \tleaf\nend\n")
        // Not standalone: no indentation, and the line keeps its break.
        #expect(
            try render(["t": "{{% CONTENT_TYPE: INI}}\n> {{> leaf}}<\n", "leaf": "{{% CONTENT_TYPE: INI}}\na\nb"])
                == "> a\nb<\n")
    }

    @Test func commentsRenderNothing() throws {
        #expect(try render("a{{! one }}b\n{{!\nmany\n{ lines }\n}}\nc") == "ab\nc")
    }

    @Test func anUnknownTemplateNameRendersNil() throws {
        #expect(try render(["t": "{{% CONTENT_TYPE: INI}}\nx"], "other") == nil)
    }

    @Test(arguments: [
        ("a\n{{#x}}\nb\n", 3, "{{#x}} is never closed with {{/x}}"),
        ("{{#x}}\n{{^y}}\n{{/y}}\n", 2, "{{#x}} is never closed with {{/x}}"),
        ("{{#x}}\n{{/y}}\n", 3, "{{/y}} does not close {{#x}} (line 2)"),
        ("{{^x}}{{/y}}", 2, "{{/y}} does not close {{^x}} (line 2)"),
        ("a\n\n{{/y}}", 4, "{{/y}} closes no section"),
        ("a\nb {{name\n", 3, "a tag opened with {{ is not closed with }}"),
        ("{{domain} and\n{{x}}", 2, "a tag opened with {{ is not closed with }}"),
        ("{{{raw}}", 2, "a tag opened with {{{ is not closed with }}}"),
        ("{{!\n\n}}\n{{/x}}", 5, "{{/x}} closes no section"),
        ("{{a b}}", 2, "{{a b}} does not hold a valid name"),
        ("{{#}}", 2, "{{#}} does not hold a valid name"),
        ("{{a..b}}", 2, "{{a..b}} does not hold a valid name"),
        ("{{> }}", 2, "{{> }} does not hold a valid name"),
        ("{{{raw}}}", 2, "{{{raw}}} is an unescaped variable; sbs never escapes, so write {{name}}"),
        ("{{& raw}}", 2, "{{& raw}} is an unescaped variable; sbs never escapes, so write {{name}}"),
        (
            "{{% CONTENT_TYPE: JSON}}", 2,
            "{{% CONTENT_TYPE: JSON}} is not a known pragma: use {{% CONTENT_TYPE: TYPE}}, TYPE one of YAML, NGINX, ENV, INI, SQL, SHELL"
        ),
        ("x\n{{% CONTENT_TYPE: YAML}}\n", 3, "{{% CONTENT_TYPE}} is declared again: only the first line declares it"),
        (
            "{{=<% %>=}}", 2,
            "{{=<% %>=}} is a Mustache tag that sbs does not support (set delimiters, blocks and parents)"
        ),
    ])
    func templatesThatDoNotParseAreErrorsWithTheirLine(_ text: String, _ line: Int, _ problem: String) {
        #expect(throws: TemplateError(template: "broken", line: line, problem: problem)) {
            var library = TemplateLibrary()
            try library.register("{{% CONTENT_TYPE: INI}}\n" + text, named: "broken")
        }
    }

    @Test(arguments: [
        "", "key: value\n", "\n{{% CONTENT_TYPE: YAML}}\n", " {{% CONTENT_TYPE: YAML}}\n",
        "{{! yaml }}\n{{% CONTENT_TYPE: YAML}}\n",
    ])
    func aTemplateWhoseFirstLineDoesNotDeclareItsContentTypeDoesNotParse(_ text: String) {
        #expect(
            throws: TemplateError(
                template: "t", line: 1,
                problem:
                    "the first line does not declare the content type: make it {{% CONTENT_TYPE: TYPE}}, TYPE one of YAML, NGINX, ENV, INI, SQL, SHELL"
            )
        ) {
            var library = TemplateLibrary()
            try library.register(text, named: "t")
        }
    }

    @Test func aPartialThatNamesNoTemplateIsAnErrorEvenWhereNoValueReachesIt() {
        let templates = [
            "t": "{{% CONTENT_TYPE: INI}}\nfine",
            "uses": "{{% CONTENT_TYPE: INI}}\nx\n{{#never}}\n{{> nginx/_missing.conf}}\n{{/never}}\n",
        ]
        #expect(
            throws: TemplateError(
                template: "uses", line: 4, problem: "the partial {{> nginx/_missing.conf}} names no template")
        ) {
            try render(templates, "t", ["never": false])
        }
    }

    @Test func theConfigRendererNamesTheBrokenTemplateAndLine() throws {
        let (input, secrets) = try GoldenCase.minimumBasic.input()
        let original = try Repository.templates().files
        func renderWith(nginx: String) throws -> [RenderedFile] {
            var files = original
            files[TemplateSet.folder + "nginx/nginx.conf.mustache"] = nginx
            return try ConfigRenderer.render(input, secrets: secrets, templates: TemplateSet(files: files))
        }
        #expect(
            throws: UserError(
                "The template assets/deploy/nginx/nginx.conf.mustache does not parse: nginx/nginx.conf, line 3: {{/smpt}} does not close {{#smtp}} (line 2)"
            )
        ) {
            try renderWith(nginx: "{{% CONTENT_TYPE: NGINX}}\n{{#smtp}}\n{{/smpt}}\n")
        }
        #expect(
            throws: UserError(
                "The template assets/deploy/nginx/nginx.conf.mustache does not parse: nginx/nginx.conf, line 2: the partial {{> nginx/_commn-http.conf}} names no template"
            )
        ) {
            try renderWith(nginx: "{{% CONTENT_TYPE: NGINX}}\n{{> nginx/_commn-http.conf}}\n")
        }
        let misspelt = #expect(throws: UserError.self) {
            try renderWith(
                nginx:
                    "{{% CONTENT_TYPE: NGINX}}\nserver_name {{serverNames}};\nssl_certificate /etc/nginx/ssl/live/{{domian}}/fullchain.pem;\n"
            )
        }
        #expect(
            misspelt?.message
                == "The template assets/deploy/nginx/nginx.conf.mustache cannot be rendered: nginx/nginx.conf, line 3: {{domian}} names no value"
        )
        #expect(misspelt?.remedy?.contains("templateValues") == true)
    }
}
