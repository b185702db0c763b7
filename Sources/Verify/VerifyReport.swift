import FoundationEssentials
import SBSCore

/// One check of `sbs verify`: what was checked (a stable kebab-case id), how it came out, what was seen, and for a
/// failure what to do next.
public struct VerifyCheck: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case pass, fail, skip
    }

    public var id: String
    public var status: Status
    /// What was seen: status codes, header values, days left, container names; for a skip, why it did not apply.
    public var detail: String
    /// What to do next; set for a failure, nil otherwise.
    public var remedy: String?

    public init(id: String, status: Status, detail: String, remedy: String? = nil) {
        self.id = id
        self.status = status
        self.detail = detail
        self.remedy = remedy
    }

    public static func pass(_ id: String, _ detail: String) -> VerifyCheck { VerifyCheck(id: id, status: .pass, detail: detail) }
    public static func skip(_ id: String, _ detail: String) -> VerifyCheck { VerifyCheck(id: id, status: .skip, detail: detail) }
    public static func fail(_ id: String, _ detail: String, remedy: String) -> VerifyCheck {
        VerifyCheck(id: id, status: .fail, detail: detail, remedy: remedy)
    }

    enum CodingKeys: String, CodingKey { case id, status, detail, remedy }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        status = try container.decode(Status.self, forKey: .status)
        detail = try container.decode(String.self, forKey: .detail)
        remedy = try container.decodeIfPresent(String.self, forKey: .remedy)
    }

    /// Every key is always written (`"remedy": null` when there is none), so readers of the JSON see one shape.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(status, forKey: .status)
        try container.encode(detail, forKey: .detail)
        try container.encode(remedy, forKey: .remedy)
    }
}

/// What `sbs verify` found: `{"checks": [{"id", "status", "detail", "remedy"}, …]}` (DESIGN section 6), printed by
/// `--json` and kept in `/var/lib/sbs/verify.json`.
public struct VerifyReport: Codable, Sendable, Hashable {
    public var checks: [VerifyCheck]

    public init(checks: [VerifyCheck]) {
        self.checks = checks
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
            lines.append(pad(check.id, idWidth) + pad(check.status.rawValue.uppercased(), statusWidth) + (detailLines.first ?? ""))
            for more in detailLines.dropFirst() { lines.append(indent + more) }
            if check.status == .fail, let remedy = check.remedy {
                let remedyLines = remedy.split(separator: "\n", omittingEmptySubsequences: false)
                lines.append(indent + "→ " + (remedyLines.first.map(String.init) ?? ""))
                for more in remedyLines.dropFirst() { lines.append(indent + "  " + more) }
            }
        }
        let counts = VerifyCheck.Status.allCases.map { status in (status, checks.filter { $0.status == status }.count) }
        let summary = counts.filter { $0.1 > 0 }.map { "\($0.1) \($0.0 == .pass ? "passed" : $0.0 == .fail ? "failed" : "skipped")" }
        lines.append("")
        lines.append(checks.isEmpty ? "No checks ran." : summary.joined(separator: ", ") + ".")
        return lines.joined(separator: "\n")
    }
}
