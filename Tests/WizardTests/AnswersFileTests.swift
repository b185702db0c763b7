import Foundation
import SBSCore
import Testing
@testable import Wizard

func problems(_ text: String) -> [String] {
    do {
        _ = try AnswersFile.parse(text, file: "site.yaml")
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

@Suite struct AnswersValidation {
    let complete = """
        version: 1
        domain: shop.example.com
        admin_email: admin@example.com
        secrets:
          anthropic_api_key: env:ANTHROPIC_API_KEY
        """

    @Test func aCompleteFileParses() throws {
        let answers = try AnswersFile.parse(complete, file: "site.yaml")
        #expect(answers.domain?.value == "shop.example.com")
        #expect(answers.secrets[.anthropicAPIKey] == .environment("ANTHROPIC_API_KEY"))
        #expect(answers.missing().isEmpty)
        #expect(answers.httpPort.value == 80)
        #expect(answers.given.isSuperset(of: ["domain", "admin_email", "secrets.anthropic_api_key"]))
    }

    @Test func yamlSyntaxErrorsHaveLineAndColumn() {
        let found = problems("version: 1\ndomain: [shop.example.com\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("site.yaml:3:1: YAML syntax error") == true)
    }

    @Test func aMisspeltKeyIsNamedWithASuggestion() {
        let found = problems("version: 1\ndomian: shop.example.com\ntls:\n  mdoe: acme\n")
        #expect(found.contains("site.yaml:2:1: unknown key 'domian' (did you mean 'domain'?)"))
        #expect(found.contains("site.yaml:4:3: unknown key 'tls.mdoe' (did you mean 'tls.mode'?)"))
    }

    @Test func invalidValuesSayWhy() {
        let found = problems("""
            version: 1
            domain: shop_example.com
            admin_email: admin-at-example.com
            ports:
              http: 80
              https: 70000
            profile: huge
            tls:
              acme_directory: ftp://ca.example
            backups:
              keep: 0
            """)
        #expect(found.count == 6)
        #expect(found.contains { $0.hasPrefix("site.yaml:2:9: domain: 'shop_example.com' is not a valid domain name: it contains '_'") })
        #expect(found.contains { $0.hasPrefix("site.yaml:3:14: admin_email: 'admin-at-example.com' is not a valid e-mail address") })
        #expect(found.contains("site.yaml:6:10: ports.https: 70000 is not a valid port: ports run from 1 to 65535"))
        #expect(found.contains("site.yaml:7:10: profile must be one of auto, minimum, recommended, optimal, not 'huge'"))
        #expect(found.contains { $0.hasPrefix("site.yaml:9:19: tls.acme_directory: must be letsencrypt") })
        #expect(found.contains("site.yaml:11:9: backups.keep must be from 1 to 365"))
    }

    @Test(arguments: [
        ("domain: \"shop.example.com\\nevil: 1\"", "a newline"),
        ("domain: \"shop.example.com; rm -rf /\"", "';'"),
        ("domain: \"shop.example.com{\"", "'{'"),
        ("domain: \"shop\\\"x.example.com\"", "'\"'"),
        ("images:\n  nginx: \"nginx:alpine\\n    command: evil\"", "a newline"),
        ("images:\n  app-api: \"api;latest\"", "';'"),
        ("paths:\n  deploy_dir: \"/opt/sbs dir\"", "a space"),
        ("aliases: [\"www.example.com }\"]", "a space"),
        ("secrets:\n  grafana_password: \"pw\\nX=1\"", "line break"),
        ("smtp:\n  host: mail.example.com\n  user: \"a b\"", "a space"),
    ])
    func valuesThatCouldBreakAGeneratedFileAreRejected(_ line: String, _ reason: String) {
        let found = problems("version: 1\n" + line + "\n")
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.contains(reason) == true, "\(found)")
    }

    @Test func allMissingRequiredAnswersAreListedAtOnce() throws {
        let answers = try AnswersFile.parse("version: 1\nprofile: minimum\n", file: "site.yaml")
        #expect(answers.missing() == ["domain", "admin_email", "secrets.anthropic_api_key"])
        #expect(answers.missing(storedSecrets: [.anthropicAPIKey]) == ["domain", "admin_email"])
    }

    @Test func versionIsRequiredAndChecked() {
        #expect(problems("domain: shop.example.com\n").contains("site.yaml:1:1: missing 'version: 1' at the top"))
        #expect(problems("version: 2\n").contains("site.yaml:1:10: version 2 is not supported; this sbs reads version 1"))
    }

    @Test func secretReferencesResolveOrSayWhatIsMissing() throws {
        #expect(try SecretSource("env:KEY").resolve(["KEY": "v"]) == "v")
        #expect(throws: UserError.self) { try SecretSource("env:KEY").resolve([:]) }
        #expect(throws: UserError.self) { try SecretSource("file:/nonexistent/secret").resolve() }
        #expect(problems("version: 1\nsecrets:\n  anthropic_api_key: file:relative\n").first?.contains("absolute path") == true)
    }

    @Test func renderingKeepsReferencesAndLeavesLiteralSecretsOut() throws {
        var answers = try AnswersFile.parse(complete, file: "site.yaml")
        answers.secrets[.grafanaPassword] = .literal("s3cret-grafana")
        let text = AnswersFile.render(answers)
        #expect(text.contains("anthropic_api_key: \"env:ANTHROPIC_API_KEY\""))
        #expect(!text.contains("s3cret-grafana"))
        let again = try AnswersFile.parse(text, file: "export.yaml")
        #expect(again.domain == answers.domain)
        #expect(again.secrets[.anthropicAPIKey] == answers.secrets[.anthropicAPIKey])
        let withSecrets = AnswersFile.render(answers, includeSecrets: true)
        #expect(withSecrets.contains("grafana_password: \"s3cret-grafana\""))
    }
}

/// A terminal that plays a script: each expected prompt with its reply. An unexpected prompt fails the test.
final class ScriptedTerminal: Terminal {
    var script: [(prompt: String, reply: String?)]
    var written = ""
    var initials: [String: String] = [:]

    init(_ script: [(String, String?)]) { self.script = script.map { (prompt: $0.0, reply: $0.1) } }

    func next(_ prompt: String) -> String? {
        guard let step = script.first else {
            Issue.record("unexpected prompt after the script ended: \(prompt)")
            return nil
        }
        guard prompt.hasPrefix(step.prompt) else {
            Issue.record("expected a prompt starting with '\(step.prompt)', got '\(prompt)'")
            return nil
        }
        script.removeFirst()
        return step.reply
    }

    func readLine(prompt: String, initial: String, completions: [String]) -> String? {
        initials[prompt] = initial
        return next(prompt)
    }

    func readSecret(prompt: String) throws(UserError) -> String? { next(prompt) }
    func write(_ text: String) { written += text }
}

@Suite struct WizardQuestions {
    @Test func asksOnlyTheGapsReAsksWithTheReasonAndConfirms() throws {
        var answers = Answers()
        answers.adminEmail = try EmailAddress("ops@example.com")
        let terminal = ScriptedTerminal([
            ("Domain name", "bad domain.com"),
            ("Domain name", "shop.example.com"),
            ("Performance profile", "recommended"),
            ("TLS certificates", "acme"),
            ("Anthropic API key", "sk-test-key"),
            ("Proceed", "y"),
        ])
        let result = try Wizard(terminal: terminal).complete(answers, given: ["admin_email"], previous: nil,
                                                             detectedProfile: "minimum", storedSecrets: [])
        #expect(result.domain?.value == "shop.example.com")
        #expect(result.profile == .recommended)
        #expect(result.secrets[.anthropicAPIKey] == .literal("sk-test-key"))
        #expect(terminal.written.contains("✗ 'bad domain.com' is not a valid domain name: it contains a space"))
        #expect(!terminal.written.contains("sk-test-key"))
        #expect(terminal.script.isEmpty)
    }

    @Test func previousAnswersAreOfferedAndStoredSecretsNotAskedAgain() throws {
        var previous = Answers()
        previous.domain = try DomainName("old.example.com")
        previous.adminEmail = try EmailAddress("old@example.com")
        let terminal = ScriptedTerminal([
            ("Domain name", "old.example.com"),
            ("Administrator e-mail", "old@example.com"),
            ("Performance profile", "auto"),
            ("TLS certificates", "self-signed"),
            ("Proceed", "n"),
        ])
        #expect(throws: Wizard.Declined.self) {
            try Wizard(terminal: terminal).complete(Answers(), given: [], previous: previous, detectedProfile: nil,
                                                    storedSecrets: [.anthropicAPIKey])
        }
        #expect(terminal.initials.first { $0.key.hasPrefix("Domain") }?.value == "old.example.com")
        #expect(terminal.written.contains("anthropic_api_key kept from before"))
    }
}
