import Foundation
import SBSCore

/// One container as `docker compose ps --format json` reports it.
public struct ComposeContainer: Codable, Sendable, Hashable {
    public var service: String
    public var name: String
    /// `running`, `exited`, `restarting` …
    public var state: String
    /// `healthy`, `unhealthy`, `starting`, or empty when the service has no healthcheck.
    public var health: String
    public var exitCode: Int?

    enum CodingKeys: String, CodingKey {
        case service = "Service", name = "Name", state = "State", health = "Health", exitCode = "ExitCode"
    }

    public init(service: String, name: String, state: String, health: String, exitCode: Int? = nil) {
        self.service = service
        self.name = name
        self.state = state
        self.health = health
        self.exitCode = exitCode
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        service = try container.decode(String.self, forKey: .service)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? service
        state = try container.decodeIfPresent(String.self, forKey: .state) ?? ""
        health = try container.decodeIfPresent(String.self, forKey: .health) ?? ""
        exitCode = try container.decodeIfPresent(Int.self, forKey: .exitCode)
    }

    /// Running, and healthy when it has a healthcheck.
    public var isReady: Bool { state == "running" && (health.isEmpty || health == "healthy") }

    /// `docker compose ps --format json` output: one JSON object per line (compose 2.21 and later) or one JSON
    /// array (earlier v2 releases). Both are read.
    /// - Throws: `UserError` quoting the start of what could not be read.
    public static func parse(_ text: String) throws(UserError) -> [ComposeContainer] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [] }
        let decoder = JSONDecoder()
        do {
            if trimmed.hasPrefix("[") { return try decoder.decode([ComposeContainer].self, from: Data(trimmed.utf8)) }
            return try trimmed.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map { line in
                try decoder.decode(ComposeContainer.self, from: Data(line.utf8))
            }
        } catch {
            throw UserError("`docker compose ps --format json` printed something sbs cannot read: \(String(trimmed.prefix(120)).debugSafe)",
                            remedy: "Check `docker compose version` (compose v2 is needed).")
        }
    }
}
