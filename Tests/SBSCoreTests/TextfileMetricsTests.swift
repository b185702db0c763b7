import Foundation
import SBSCore
import TestSupport
import Testing

@testable import SBSCore

/// sbs's textfile metrics: what it writes, Prometheus' own parser accepts (`promtool check metrics`), and it reads
/// back as written, over generated label values (quotes, backslashes, line breaks, non-ASCII) and values.
@Suite struct TextfileMetricsFiles {
    /// `promtool check metrics` with `text` on its standard input: its exit status and what it said.
    func promtoolCheck(_ text: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["promtool", "check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let said = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: said, as: UTF8.self))
    }

    /// The samples of the text format read back: name, labels (unescaped) and value, comments aside.
    func parse(_ text: String) -> [(name: String, labels: [[String]], value: Double)] {
        var samples: [(String, [[String]], Double)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var chars = Array(line)
            var index = 0
            var name = ""
            while index < chars.count, chars[index] != "{", chars[index] != " " {
                name.append(chars[index])
                index += 1
            }
            var labels: [[String]] = []
            if index < chars.count, chars[index] == "{" {
                index += 1
                while chars[index] != "}" {
                    var key = ""
                    while chars[index] != "=" {
                        key.append(chars[index])
                        index += 1
                    }
                    index += 2  // ="
                    var value = ""
                    while chars[index] != "\"" {
                        if chars[index] == "\\" {
                            index += 1
                            value.append(chars[index] == "n" ? "\n" : chars[index])
                        } else {
                            value.append(chars[index])
                        }
                        index += 1
                    }
                    index += 1
                    if chars[index] == "," { index += 1 }
                    labels.append([key, value])
                }
                index += 1
            }
            chars = Array(chars[(index + 1)...])
            samples.append((name, labels, Double(String(chars)) ?? .nan))
        }
        return samples
    }

    @Test(.requires("promtool", install: "apt-get install -y prometheus"))
    func whatIsWrittenPromtoolAcceptsAndReadsBackAsWritten() throws {
        var generator = SeededGenerator(seed: 17)
        let pieces = ["a", "\"", "\\", "\n", "é", "backup", " ", "{", "}", ",", "=", "ü€"]
        for round in 0..<40 {
            var samples: [TextfileMetrics.Sample] = []
            for index in 0..<Int.random(in: 1...6, using: &generator) {
                let value: Double =
                    Bool.random(using: &generator)
                    ? Double(Int.random(in: 0...2_000_000_000, using: &generator))
                    : Double.random(in: -1e6...1e6, using: &generator)
                let label = (0..<Int.random(in: 0...8, using: &generator)).map { _ in
                    pieces.randomElement(using: &generator)!
                }.joined()
                samples.append(
                    .init(
                        "sbs_test_\(index % 3)_seconds", help: "A test \\ gauge, round \(round).",
                        labels: [("check", label), ("n", "\(index)")], value: value))
            }
            let text = TextfileMetrics.render(samples)
            let checked = try promtoolCheck(text)
            #expect(checked.status == 0, "\(checked.output)\n\(text)")
            let read = parse(text)
            // Rendered grouped by name: compare as sets of (name, labels, value).
            let written = samples.map { "\($0.name) \($0.labels.map { [$0.0, $0.1] }) \($0.value)" }
            #expect(Set(read.map { "\($0.name) \($0.labels) \($0.value)" }) == Set(written), "\(text)")
            #expect(read.count == samples.count)
        }
        // A check that can fail: promtool refuses what is not the format.
        #expect(try promtoolCheck("sbs_broken{check=\"a} 1\n").status != 0)
    }

    @Test func theFileIsWrittenWholeReadableByAnExporterAndOnlyForAnInstallation() throws {
        let root = Scratch.path("metrics")
        let layout = Layout(root: root)
        let samples = [TextfileMetrics.Sample("sbs_backup_last_success_timestamp_seconds", help: "h", value: 1.7e9)]
        try TextfileMetrics.write(samples, job: "backup", in: layout)
        #expect(!FileManager.default.fileExists(atPath: TextfileMetrics.directory(in: layout)))
        try FileManager.default.createDirectory(atPath: layout.stateDir, withIntermediateDirectories: true)
        try TextfileMetrics.write(samples, job: "backup", in: layout)
        let path = TextfileMetrics.directory(in: layout) + "/sbs-backup.prom"
        #expect(
            try String(contentsOfFile: path, encoding: .utf8)
                == "# HELP sbs_backup_last_success_timestamp_seconds h\n# TYPE sbs_backup_last_success_timestamp_seconds gauge\nsbs_backup_last_success_timestamp_seconds 1700000000\n"
        )
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o644)
        let folder = try FileManager.default.attributesOfItem(atPath: TextfileMetrics.directory(in: layout))
        #expect((folder[.posixPermissions] as? Int) == 0o755)
        // Only the file: no temporary file left beside it.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: TextfileMetrics.directory(in: layout)) == [
                "sbs-backup.prom"
            ])
    }
}
