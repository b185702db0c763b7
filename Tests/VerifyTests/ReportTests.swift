import Foundation
import TestSupport
import Testing

@testable import Verify

@Suite struct ReportTests {
    /// Text as details carry it: status codes, URLs with slashes, quotes, backslashes, control characters, line
    /// breaks, non-ASCII, emoji, and the empty string.
    static func text(_ random: inout SeededGenerator) -> String {
        let pieces = [
            "GET https://shop.test/api/health → 502", "\"quoted\"", "back\\slash", "tab\there", "line\nbreak",
            "días", "証明書", "🔒", "\u{0}", "\u{1F}", "", " ", "{\"json\": [1, 2]}", "null", "</script>", "%s",
        ]
        return (0..<Int.random(in: 0...5, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined(
            separator: " ")
    }

    static func report(seed: UInt64) -> VerifyReport {
        var random = SeededGenerator(seed: seed)
        let checks = (0..<Int.random(in: 0...14, using: &random)).map { _ -> VerifyCheck in
            let status = [VerifyCheck.Status.pass, .fail, .skip].randomElement(using: &random)!
            return VerifyCheck(
                id: StackVerifier.checkIDs.randomElement(using: &random)!, status: status, detail: text(&random),
                remedy: Bool.random(using: &random) ? text(&random) : nil)
        }
        return VerifyReport(checks: checks)
    }

    @Test func decodingWhatWasEncodedGivesTheSameReport() throws {
        for seed in UInt64(1)...300 {
            let report = Self.report(seed: seed)
            let decoded = try VerifyReport.decode(report.json())
            #expect(decoded == report, "seed \(seed)")
            // The Codable form (what another Swift reader would write) reads back the same too.
            #expect(
                try JSONDecoder().decode(VerifyReport.self, from: JSONEncoder().encode(report)) == report,
                "seed \(seed)")
        }
    }

    /// DESIGN section 6: `{"checks": [{"id", "status", "detail", "remedy"}, …]}`, the four keys always there,
    /// status one of pass, fail, skip; remedy null when there is none.
    @Test func theJSONHasExactlyTheDesignedShape() throws {
        let report = VerifyReport(checks: [
            .pass("web-app", "GET https://shop.test/ → 200"),
            .fail("database", "pg_isready: exit 2", remedy: "Look at the logs."),
            .skip("models", "this profile runs no local Ollama"),
        ])
        let json = report.json()
        #expect(
            json == """
                {
                  "checks": [
                    {"id": "web-app", "status": "pass", "detail": "GET https://shop.test/ → 200", "remedy": null},
                    {"id": "database", "status": "fail", "detail": "pg_isready: exit 2", "remedy": "Look at the logs."},
                    {"id": "models", "status": "skip", "detail": "this profile runs no local Ollama", "remedy": null}
                  ]
                }

                """)
        #expect(VerifyReport(checks: []).json() == "{\n  \"checks\": []\n}\n")
        #expect(try VerifyReport.decode(VerifyReport(checks: []).json()) == VerifyReport(checks: []))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["checks"])
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(checks.count == 3)
        for check in checks { #expect(Set(check.keys) == ["id", "status", "detail", "remedy"]) }
        #expect(checks.map { $0["status"] as? String } == ["pass", "fail", "skip"])
        #expect(checks[0]["remedy"] is NSNull)
        #expect(checks[1]["remedy"] as? String == "Look at the logs.")
        #expect(!report.passed && report.failures.map(\.id) == ["database"])
        #expect(VerifyReport(checks: [report.checks[0], report.checks[2]]).passed)
        // A report written by another tool, remedy left out, reads too.
        let minimal = try VerifyReport.decode(#"{"checks":[{"id":"web-app","status":"pass","detail":"ok"}]}"#)
        #expect(minimal.checks == [.pass("web-app", "ok")])
        #expect(throws: (any Error).self) {
            try VerifyReport.decode(#"{"checks":[{"id":"x","status":"warn","detail":""}]}"#)
        }
    }

    /// The summary line read back: "2 passed, 1 failed, 3 skipped." as [("passed", 2), ("failed", 1), ("skipped", 3)],
    /// "No checks ran." as []; nil for a line of any other form.
    static func summaryCounts(_ line: String) -> [Count]? {
        if line == "No checks ran." { return [] }
        guard line.hasSuffix(".") else { return nil }
        var counts: [Count] = []
        for part in line.dropLast().components(separatedBy: ", ") {
            let words = part.split(separator: " ", omittingEmptySubsequences: false)
            guard words.count == 2, let number = Int(words[0]) else { return nil }
            counts.append(Count(word: String(words[1]), number: number))
        }
        return counts
    }

    struct Count: Equatable, CustomStringConvertible {
        var word: String
        var number: Int
        var description: String { "\(number) \(word)" }
    }

    /// What the summary must say: each status that occurs, counted, in the order pass, fail, skip.
    static func counts(_ report: VerifyReport) -> [Count] {
        [(VerifyCheck.Status.pass, "passed"), (.fail, "failed"), (.skip, "skipped")].compactMap { status, word in
            let number = report.checks.filter { $0.status == status }.count
            return number == 0 ? nil : Count(word: word, number: number)
        }
    }

    @Test func theTableShowsEveryCheckAndTheRemedyOfEachFailure() {
        for seed in UInt64(1)...100 {
            let report = Self.report(seed: seed)
            let lines = report.table().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines[0].hasPrefix("CHECK") && lines[0].hasSuffix("DETAIL"))
            var index = 1
            for check in report.checks {
                // The check's first line: id, status, the detail's first line; then the detail's other lines.
                let row = lines[index]
                #expect(
                    row.hasPrefix(check.id + " ") && row.contains(" " + check.status.rawValue.uppercased() + " "),
                    "seed \(seed): \(row)")
                let detailLines = check.detail.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                #expect(row.hasSuffix(detailLines[0]), "seed \(seed): \(row)")
                index += 1
                for more in detailLines.dropFirst() {
                    #expect(
                        lines[index] == String(repeating: " ", count: lines[index].count - more.count) + more,
                        "seed \(seed): \(lines[index])")
                    index += 1
                }
                // A failure's remedy follows it; no other check shows one.
                if check.status == .fail, let remedy = check.remedy {
                    let remedyLines = remedy.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    #expect(lines[index].hasSuffix("→ " + remedyLines[0]), "seed \(seed): \(lines[index])")
                    for (offset, more) in remedyLines.enumerated().dropFirst() {
                        #expect(lines[index + offset].hasSuffix(more), "seed \(seed)")
                    }
                    index += remedyLines.count
                }
            }
            #expect(
                lines[index] == "" && index + 2 == lines.count,
                "seed \(seed): nothing but the summary follows the checks")
            #expect(Self.summaryCounts(lines[index + 1]) == Self.counts(report), "seed \(seed): \(lines[index + 1])")
        }
        let table = VerifyReport(checks: [
            .pass("web-app", "GET https://shop.test/ → 200"),
            .fail("tls-certificate", "other.test: refused", remedy: "Obtain a certificate for every name."),
        ]).table()
        #expect(
            table == """
                CHECK            STATUS DETAIL
                web-app          PASS   GET https://shop.test/ → 200
                tls-certificate  FAIL   other.test: refused
                                        → Obtain a certificate for every name.

                1 passed, 1 failed.
                """)
    }
}
