import Foundation
import Testing

/// The README's "Using sbs" section is written by hand; `--help` is what the binary says. Both are parsed and
/// compared: the same commands, and for each the same options and arguments, so that neither drifts from the other.
@Suite struct UsageReference {
    /// One command as a reference describes it: its options (each with every spelling, `-o` and `--output`) and
    /// its positional arguments (lower-cased names).
    struct Command: Equatable {
        var options: [Set<String>] = []
        var arguments: [String] = []
    }

    /// Options `--help` shows on every command that are about help itself.
    static let meta: Set<String> = ["-h", "--help", "--version"]

    @Test func theReadmeListsExactlyTheCommandsOptionsAndArgumentsOfHelp() async throws {
        let help = try await Self.helpReference()
        let readme = try Self.readmeReference(try #require(read(repositoryRoot + "/README.md")))

        #expect(help.commands.count >= 11, "--help was not read: \(help.commands.keys.sorted())")
        #expect(
            Set(readme.commands.keys) == Set(help.commands.keys),
            "commands only in --help: \(Set(help.commands.keys).subtracting(readme.commands.keys).sorted()); only in the README: \(Set(readme.commands.keys).subtracting(help.commands.keys).sorted())"
        )
        #expect(
            readme.global == help.global,
            "options every command takes: --help \(help.global.sorted()), README \(readme.global.sorted())")

        for (name, helped) in help.commands.sorted(by: { $0.key < $1.key }) {
            guard let written = readme.commands[name] else { continue }
            let spelled = Set(written.options.flatMap { $0 })
            let missing = helped.options.filter { $0.isDisjoint(with: spelled) }.map {
                $0.sorted().joined(separator: ", ")
            }
            let unknown = spelled.filter { spelling in !helped.options.contains { $0.contains(spelling) } }
            #expect(missing.isEmpty, "sbs \(name): the README lacks \(missing.sorted()), which --help lists")
            #expect(unknown.isEmpty, "sbs \(name): the README names \(unknown.sorted()), which --help does not list")
            #expect(
                written.arguments == helped.arguments,
                "sbs \(name): arguments in --help \(helped.arguments), in the README \(written.arguments)")
        }
    }

    /// The parsers see what is there: a reference of a few lines, read both ways.
    @Test func theReadersFindCommandsOptionsAndArguments() throws {
        let readme = try Self.readmeReference(
            """
            # sbs

            ## Using sbs

            ```
            sbs plan [--format text|json|dot] [-o FILE]   order, needs (and --not-an-option in the description)
            sbs answers validate FILE       every problem
            sbs cert issue --domain D
                           [--eab-kid K --eab-hmac-key env:NAME|file:PATH]
                                            a description line -t
            ```

            Every command takes `--root DIR` and `--assets DIR`.

            ## Next
            """)
        #expect(readme.global == ["--root", "--assets"])
        #expect(
            readme.commands == [
                "plan": Command(options: [["--format"], ["-o"]]),
                "answers validate": Command(arguments: ["file"]),
                "cert issue": Command(options: [["--domain"], ["--eab-kid"], ["--eab-hmac-key"]]),
            ])
        let help = Self.helpSections(
            """
            USAGE: sbs answers export [--root <DIR>] [--output <FILE>]

            ARGUMENTS:
              <file>                  The answers file.

            OPTIONS:
              --root <DIR>            Keep everything sbs writes under DIR (default /).
                                      (default: /)
              -o, --output <FILE>     Write to FILE (0600) instead of standard output.
              --self-check-port <PORT>
                                      Port for the self-check.
              -h, --help              Show help information.

            SUBCOMMANDS:
              show (default)          List the kept secrets.
              export                  Write the answers.
            """)
        #expect(
            help.command
                == Command(
                    options: [["--root"], ["-o", "--output"], ["--self-check-port"], ["-h", "--help"]],
                    arguments: ["file"]))
        #expect(help.subcommands == ["show", "export"])
    }

    // MARK: --help

    /// Every command `sbs --help` leads to (`answers validate`, …), with its options (those every command takes
    /// apart, in `global`).
    static func helpReference() async throws -> (commands: [String: Command], global: Set<String>) {
        var commands: [String: Command] = [:]
        var pending: [[String]] = [[]]
        while let path = pending.popLast() {
            let run = try await sbs(path + ["--help"])
            #expect(run.status == 0, "sbs \(path.joined(separator: " ")) --help: \(run.stderr)")
            let sections = helpSections(run.stdout)
            if sections.subcommands.isEmpty {
                var command = sections.command
                command.options.removeAll { !$0.isDisjoint(with: meta) }
                commands[path.joined(separator: " ")] = command
            } else {
                pending += sections.subcommands.map { path + [$0] }
            }
        }
        var global: Set<String>?
        for command in commands.values {
            let single = Set(command.options.filter { $0.count == 1 }.flatMap { $0 })
            global = global.map { $0.intersection(single) } ?? single
        }
        let shared = global ?? []
        for name in commands.keys { commands[name]?.options.removeAll { !$0.isDisjoint(with: shared) } }
        return (commands, shared)
    }

    /// The OPTIONS, ARGUMENTS and SUBCOMMANDS of one `--help` (swift-argument-parser's layout: a heading at the
    /// margin, entries indented two spaces, their wrapped text further).
    static func helpSections(_ text: String) -> (command: Command, subcommands: [String]) {
        var command = Command()
        var subcommands: [String] = []
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.first, first != " " {
                section = line.hasSuffix(":") ? String(line.dropLast()) : ""
                continue
            }
            guard line.hasPrefix("  "), line.dropFirst(2).first != " " else { continue }
            let entry = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: true)
            guard let head = entry.first else { continue }
            switch section {
            case "OPTIONS" where head.hasPrefix("-"):
                var spellings: Set<String> = [String(head.trimmingCharacters(in: [","]))]
                if head.hasSuffix(","), entry.count > 1 { spellings.insert(String(entry[1])) }
                command.options.append(spellings)
            case "ARGUMENTS" where head.hasPrefix("<"):
                command.arguments.append(head.trimmingCharacters(in: ["<", ">", "."]).lowercased())
            case "SUBCOMMANDS" where head.allSatisfy({ $0.isLowercase || $0 == "-" }):
                subcommands.append(String(head))
            default:
                break
            }
        }
        return (command, subcommands)
    }

    // MARK: README

    /// The commands of the README's "Using sbs" block, and the options its next paragraph says every command
    /// takes. An entry is a line `sbs COMMAND SYNOPSIS  description`, continued by indented lines that go on
    /// with the synopsis (they start with `[` or `-`) or with the description; the synopsis ends at two spaces.
    static func readmeReference(_ readme: String) throws -> (commands: [String: Command], global: Set<String>) {
        let section = try #require(
            readme.components(separatedBy: "\n## Using sbs\n").dropFirst().first?
                .components(separatedBy: "\n#").first, "README has no section \"Using sbs\"")
        let parts = section.components(separatedBy: "```")
        try #require(parts.count >= 3, "the section has no code block")
        var synopses: [(name: String, words: [String])] = []
        for line in parts[1].split(separator: "\n") {
            if line.hasPrefix("sbs ") {
                let synopsis = line.components(separatedBy: "  ")[0].split(separator: " ").dropFirst().map(String.init)
                let name = synopsis.prefix {
                    $0.first?.isLetter == true && $0.allSatisfy { $0.isLowercase || $0 == "-" }
                }
                synopses.append((name.joined(separator: " "), Array(synopsis.dropFirst(name.count))))
            } else if let last = synopses.indices.last {
                let text = line.trimmingCharacters(in: .whitespaces)
                if text.hasPrefix("[") || text.hasPrefix("-") {
                    synopses[last].words += text.components(separatedBy: "  ")[0].split(separator: " ").map(String.init)
                }
            }
        }
        var commands: [String: Command] = [:]
        for (name, words) in synopses {
            #expect(commands[name] == nil, "README lists sbs \(name) twice")
            commands[name] = command(synopsis: words)
        }
        // "Every command takes `--root DIR`: …": the options in backquotes of the paragraph after the block.
        let paragraph = parts[2].trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: "\n\n")[0]
        let quoted = paragraph.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let global = Set(
            quoted.compactMap { $0.split(separator: " ").first.map(String.init) }.filter { $0.hasPrefix("--") })
        return (commands, global)
    }

    /// Options and positional arguments of a synopsis such as `[--answers FILE] [--skip STEP]… NAME`: a word that
    /// follows an option inside its brackets is the option's value.
    static func command(synopsis: [String]) -> Command {
        var tokens: [String] = []
        for word in synopsis {
            var rest = Substring(word)
            while let bracket = rest.firstIndex(where: { "[]".contains($0) }) {
                if bracket > rest.startIndex { tokens.append(String(rest[..<bracket])) }
                tokens.append(String(rest[bracket]))
                rest = rest[rest.index(after: bracket)...]
            }
            if !rest.isEmpty { tokens.append(String(rest)) }
        }
        var command = Command()
        var previous = "["
        for token in tokens.map({ $0.trimmingCharacters(in: ["…"]) }) where !token.isEmpty {
            defer { previous = token }
            if token == "[" || token == "]" { continue }
            if token.hasPrefix("-") {
                command.options.append([token])
            } else if !previous.hasPrefix("-") {
                command.arguments.append(token.lowercased())
            }
        }
        return command
    }
}
