import Foundation
import TestSupport
import Testing

/// A tmux server of the test's own, with one window running a command in a real pseudo-terminal.
final class TmuxSession {
    let socket = "sbs-test-\(UUID().uuidString.prefix(8))"

    init(command: String) throws {
        try tmux(["new-session", "-d", "-s", "w", "-x", "120", "-y", "50", command], capture: false)
    }

    deinit { _ = try? tmux(["kill-server"], capture: false) }

    @discardableResult
    func tmux(_ arguments: [String], capture: Bool = true) throws -> String {
        if !capture {
            // The tmux server forks from this client: spawned without Foundation (see `spawnAndWait`).
            _ = spawnAndWait(["tmux", "-L", socket] + arguments)
            return ""
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tmux", "-L", socket] + arguments
        let out = Pipe()
        process.standardOutput = capture ? out : FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = capture ? out.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func keys(_ keys: String...) throws { try tmux(["send-keys", "-t", "w"] + keys, capture: false) }

    /// Types text literally (no key-name lookup).
    func type(_ text: String) throws { try tmux(["send-keys", "-t", "w", "-l", text], capture: false) }

    var screen: String { (try? tmux(["capture-pane", "-p", "-t", "w", "-S", "-100"])) ?? "" }

    /// Waits until the screen shows `text`; fails the test with the screen when it does not within `seconds`.
    func expect(_ text: String, seconds: Double = 15, sourceLocation: SourceLocation = #_sourceLocation) async {
        if await !waitFor(seconds, { screen.contains(text) }) {
            Issue.record("the screen never showed '\(text)':\n\(screen)", sourceLocation: sourceLocation)
        }
    }
}

@Suite(.serialized) struct WizardInATerminal {
    @Test func answersPromptsEditsWithCursorKeysAndRejectsABadDomain() async throws {
        try Integration.require(tools: "tmux", install: "scripts/ci-setup.sh installs it")
        let root = scratchDirectory("wizard")
        let secret = "sk-wizard-secret-4711"
        let relaySecret = "relay-pass-0815"
        let session = try TmuxSession(
            command: "\(sbsBinary) install --root \(root) --through collect-answers; echo EXIT=$?; sleep 60")

        await session.expect("Domain name")
        try session.type("bad domain.com")
        try session.keys("Enter")
        await session.expect("'bad domain.com' is not a valid domain name: it contains a space")

        // Type a typo, move the cursor left once and insert the missing letter: "shop.example.cm" → ".com".
        try session.type("shop.example.cm")
        try session.keys("Left")
        try session.type("o")
        try session.keys("Enter")

        // The e-mail is offered from the domain; accept it as shown.
        await session.expect("Administrator e-mail")
        await session.expect("admin@shop.example.com")
        try session.keys("Enter")

        // Clear the offered profile, type a prefix and complete it with Tab.
        await session.expect("Performance profile")
        try session.keys("C-u")
        try session.type("rec")
        try session.keys("Tab")
        await session.expect("recommended")
        try session.keys("Enter")

        await session.expect("TLS certificates")
        try session.keys("Enter")
        // HSTS over the names under the domain, "no" offered: replaced by "yes".
        await session.expect("Keep every name under shop.example.com to HTTPS too?")
        try session.keys("C-u")
        try session.type("yes")
        try session.keys("Enter")
        await session.expect("Backups go to")
        try session.keys("Enter")

        // The recommended profile runs monitoring: who its alerts reach, and the relay that mails them. A bad
        // address is refused and asked again; the relay's password is typed hidden.
        await session.expect("Alerts by e-mail to")
        await session.expect("admin@shop.example.com")
        try session.keys("C-u")
        try session.type("owner@shop.example.com, it@")
        try session.keys("Enter")
        await session.expect("✗ 'it@' is not a valid e-mail address")
        try session.keys("C-u")
        try session.type("owner@shop.example.com, it@shop.example.com")
        try session.keys("Enter")
        await session.expect("Mail relay for the alerts")
        try session.type("mail.example.com:465")
        try session.keys("Enter")
        await session.expect("Relay login (user name)")
        try session.type("alerts")
        try session.keys("Enter")
        await session.expect("Relay password (input hidden)")
        try session.type(relaySecret)
        try session.keys("Enter")
        await session.expect("Sender address of the alerts")
        await session.expect("sbs@shop.example.com")
        try session.keys("Enter")

        await session.expect("Anthropic API key (input hidden)")
        try session.type(secret)
        try session.keys("Enter")

        await session.expect("Proceed with these answers?")
        #expect(session.screen.contains("domain            shop.example.com"))
        #expect(session.screen.contains("profile           recommended"))
        #expect(session.screen.contains("alerts            owner@shop.example.com, it@shop.example.com"))
        #expect(session.screen.contains("mail relay        mail.example.com:465 as alerts"))
        #expect(session.screen.contains("HSTS              2 years, every name under shop.example.com too"))
        try session.keys("y", "Enter")

        await session.expect("EXIT=0", seconds: 30)
        let screen = session.screen
        #expect(!screen.contains(secret), "the secret was echoed")
        #expect(!screen.contains(relaySecret), "the relay's password was echoed")
        let answers = try #require(read(root + "/etc/sbs/answers.yaml"))
        #expect(answers.contains("domain: shop.example.com"))
        #expect(answers.contains("profile: recommended"))
        #expect(answers.contains("  hsts_include_subdomains: true\n"))
        #expect(!answers.contains(secret) && !answers.contains(relaySecret))
        for log in (try? FileManager.default.contentsOfDirectory(atPath: root + "/var/log/sbs")) ?? [] {
            let text = read(root + "/var/log/sbs/" + log) ?? ""
            #expect(!text.contains(secret) && !text.contains(relaySecret), "a secret reached \(log)")
        }

        // What the wizard stored, sbs reads back: validate, plan, export, resume and a new install from the export.
        let validate = try await sbs(["answers", "validate", "--root", root, root + "/etc/sbs/answers.yaml"])
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(try await sbs(["plan", "--root", root]).status == 0)
        let export = try await sbs(["answers", "export", "--root", root])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("anthropic_api_key: \"stored\""))
        let resume = try await sbs(["resume", "--root", root])
        #expect(resume.status == 0, "\(resume.stderr)")
        #expect(resume.stderr.contains("= collect-answers: up to date"), "\(resume.stderr)")
        try export.stdout.write(toFile: root + "/exported.yaml", atomically: true, encoding: .utf8)
        let again = try await sbs([
            "install", "--root", root, "--answers", root + "/exported.yaml", "--non-interactive", "--through",
            "generate-secrets",
        ])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(read(root + "/etc/sbs/secrets.env")?.contains("ANTHROPIC_API_KEY=\(secret)\n") == true)
        #expect(read(root + "/etc/sbs/secrets.env")?.contains("SMTP_PASSWORD=\(relaySecret)\n") == true)
        // The alerts and the relay as typed, read back from the export by sbs itself.
        let exported = export.stdout
        #expect(
            exported.contains("alerts:\n  email: [\"owner@shop.example.com\", \"it@shop.example.com\"]\n"),
            "\(exported)")
        #expect(exported.contains("smtp:\n  host: mail.example.com\n  port: 465\n"), "\(exported)")
    }

    @Test func theLockIsTakenBeforeTheFirstQuestion() async throws {
        try Integration.require(tools: "tmux", install: "scripts/ci-setup.sh installs it")
        let root = scratchDirectory("wizard-lock")
        let session = try TmuxSession(command: "\(sbsBinary) install --root \(root); echo EXIT=$?; sleep 60")
        await session.expect("Domain name")
        let holder = try #require(read(root + "/var/lib/sbs/lock")?.trimmingCharacters(in: .whitespacesAndNewlines))
        let file = root + "/site.yaml"
        try writeAnswers(file)
        let second = try await sbs(
            ["install", "--root", root, "--answers", file, "--non-interactive"], environment: testEnvironment)
        #expect(second.status == 75, "\(second.stderr)")
        #expect(
            second.stderr.contains("Another sbs run (pid \(holder)) is working on this installation."),
            "\(second.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs/state.json"), "the second run ran steps")
        try session.keys("C-c")
        await session.expect("EXIT=130")
    }

    @Test func ctrlCLeavesNothingChangedAndSaysHowToStartAgain() async throws {
        try Integration.require(tools: "tmux", install: "scripts/ci-setup.sh installs it")
        let root = scratchDirectory("wizard-interrupt")
        let session = try TmuxSession(command: "\(sbsBinary) install --root \(root); echo EXIT=$?; sleep 60")
        await session.expect("Domain name")
        try session.type("shop.exa")
        try session.keys("C-c")
        await session.expect("EXIT=130")
        #expect(session.screen.contains("Interrupted: nothing was changed"))
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/sbs/state.json"))
        // The terminal was restored: what is typed now is echoed again (by the terminal, to `sleep`).
        try session.type("echo typed-after")
        try session.keys("Enter")
        await session.expect("echo typed-after")
    }

    @Test func ctrlCAtTheHiddenPromptRestoresTheTerminal() async throws {
        try Integration.require(tools: "tmux", install: "scripts/ci-setup.sh installs it")
        let root = scratchDirectory("wizard-secret-interrupt")
        let session = try TmuxSession(
            command:
                "\(sbsBinary) install --root \(root); echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -e echo -e -echo; sleep 60"
        )
        await session.expect("Domain name")
        try session.type("shop.example.com")
        try session.keys("Enter")
        await session.expect("Administrator e-mail")
        try session.keys("Enter")
        await session.expect("Performance profile")
        try session.keys("Enter")
        await session.expect("TLS certificates")
        try session.keys("Enter")
        await session.expect("Keep every name under shop.example.com to HTTPS too?")
        try session.keys("Enter")
        await session.expect("Backups go to")
        try session.keys("Enter")
        // Every profile runs monitoring: who its alerts reach (nobody here).
        await session.expect("Alerts by e-mail to")
        try session.keys("C-u")
        try session.type("none")
        try session.keys("Enter")
        await session.expect("Anthropic API key (input hidden)")
        try session.type("sk-partial")
        try session.keys("C-c")
        await session.expect("EXIT=130")
        await session.expect("\necho\n")
        #expect(!session.screen.contains("sk-partial"))
    }

    @Test(arguments: [(SIGTERM, 143), (SIGHUP, 129)])
    func aKillDuringTheQuestionsExitsWithItsSignalsStatusAndRestoresTheTerminal(_ signal: Int32, _ status: Int)
        async throws
    {
        try Integration.require(tools: "tmux", "pgrep", install: "scripts/ci-setup.sh installs it")
        let root = scratchDirectory("wizard-signal-\(signal)")
        let session = try TmuxSession(
            command:
                "\(sbsBinary) install --root \(root); echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -e echo -e -echo; sleep 60"
        )
        await session.expect("Domain name")
        try session.type("shop.exa")
        let pids = Process()
        pids.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        pids.arguments = ["-f", "^\(sbsBinary) install --root \(root)$"]
        let out = Pipe()
        pids.standardOutput = out
        try pids.run()
        pids.waitUntilExit()
        let pid = try #require(
            Int32(
                String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    .split(separator: "\n").first.map(String.init) ?? ""))
        #expect(kill(pid, signal) == 0)
        await session.expect("EXIT=\(status)")
        await session.expect("\necho\n")
        #expect(
            !FileManager.default.fileExists(atPath: root + "/var/lib/sbs/state.json"),
            "a run stopped during the questions wrote a state")
    }
}
