import FoundationEssentials
import SBSCore

/// One check of `sbs verify` (it passes, fails or is skipped; it never warns).
public typealias VerifyCheck = CheckResult

/// What `sbs verify` found: `{"checks": [{"id", "status", "detail", "remedy"}, …]}` (DESIGN section 6), printed by
/// `--json` and kept in `/var/lib/sbs/verify.json`.
public struct VerifyReport: Codable, Sendable, Hashable {
    public var checks: [VerifyCheck]

    public init(checks: [VerifyCheck]) {
        self.checks = checks
    }

    enum CodingKeys: String, CodingKey { case checks }

    /// Reads a report; a check that warns is refused, since verify's checks pass, fail or are skipped.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        checks = try container.decode([VerifyCheck].self, forKey: .checks)
        if let index = checks.firstIndex(where: { $0.status == .warn }) {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [CodingKeys.checks],
                    debugDescription: "check \(index) has status 'warn'; verify's are pass, fail or skip"))
        }
    }

    public var failures: [VerifyCheck] { checks.filter { $0.status == .fail } }
    /// True when no check failed (passed or skipped).
    public var passed: Bool { failures.isEmpty }

    /// The report as JSON, one check per line with its keys in the designed order (id, status, detail, remedy),
    /// ending with a line break. Written by hand rather than by JSONEncoder, whose key order changes from run to
    /// run: two reports of the same findings are the same bytes.
    public func json() -> String {
        if checks.isEmpty { return "{\n  \"checks\": []\n}\n" }
        let rows = checks.map { check in
            "    {\"id\": \(jsonString(check.id)), \"status\": \(jsonString(check.status.rawValue)), "
                + "\"detail\": \(jsonString(check.detail)), \"remedy\": \(check.remedy.map(jsonString) ?? "null")}"
        }
        return "{\n  \"checks\": [\n" + rows.joined(separator: ",\n") + "\n  ]\n}\n"
    }

    /// Reads a report written by `json()`.
    public static func decode(_ text: String) throws -> VerifyReport {
        try JSONDecoder().decode(VerifyReport.self, from: Data(text.utf8))
    }

    /// The report as a table for the screen: one row per check (id, status, detail; a detail of several lines
    /// continues under its column), each failure followed by its remedy, then a one-line summary.
    public func table() -> String {
        let idWidth = max(5, checks.map(\.id.count).max() ?? 0) + 2
        let statusWidth = 7
        let indent = String(repeating: " ", count: idWidth + statusWidth)
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
        }
        var lines = [pad("CHECK", idWidth) + pad("STATUS", statusWidth) + "DETAIL"]
        for check in checks {
            let detailLines = check.detail.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.append(
                pad(check.id, idWidth) + pad(check.status.rawValue.uppercased(), statusWidth)
                    + (detailLines.first ?? ""))
            for more in detailLines.dropFirst() { lines.append(indent + more) }
            if check.status == .fail, let remedy = check.remedy {
                let remedyLines = remedy.split(separator: "\n", omittingEmptySubsequences: false)
                lines.append(indent + "→ " + (remedyLines.first.map(String.init) ?? ""))
                for more in remedyLines.dropFirst() { lines.append(indent + "  " + more) }
            }
        }
        let words: [(VerifyCheck.Status, String)] = [
            (.pass, "passed"), (.warn, "warned"), (.fail, "failed"), (.skip, "skipped"),
        ]
        let summary = words.map { status, word in (checks.filter { $0.status == status }.count, word) }
            .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        lines.append("")
        lines.append(checks.isEmpty ? "No checks ran." : summary.joined(separator: ", ") + ".")
        return lines.joined(separator: "\n")
    }
}
