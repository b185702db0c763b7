import FoundationEssentials
import SBSCore

/// What Ollama's HTTP API says about models: `GET /api/tags` (the models present) and the NDJSON lines of
/// `POST /api/pull` (progress, then `success` or an `error`). Pure: the HTTP exchange is the caller's.
public enum OllamaModels {
    /// The names in a `/api/tags` answer (`{"models":[{"name":"mistral:7b",…}]}`).
    /// - Throws: `UserError` when the answer is not that document.
    public static func names(inTags body: [UInt8]) throws(UserError) -> Set<String> {
        struct Tags: Decodable {
            struct Model: Decodable { var name: String }
            var models: [Model]?
        }
        do {
            return Set(try JSONDecoder().decode(Tags.self, from: Data(body)).models?.map(\.name) ?? [])
        } catch {
            throw UserError(
                "Ollama's /api/tags answered with something that is not its model list: \(String(decoding: body.prefix(120), as: UTF8.self).debugSafe)",
                remedy: "Check the ollama service (`docker compose logs ollama`).")
        }
    }

    /// The models of `wanted` that are not in `present`; a name without a tag means `:latest`, as Ollama reads it.
    public static func missing(_ wanted: [String], present: Set<String>) -> [String] {
        func canonical(_ name: String) -> String { name.contains(":") ? name : name + ":latest" }
        let have = Set(present.map(canonical))
        return wanted.filter { !have.contains(canonical($0)) }
    }

    /// One line of a pull's progress.
    public struct PullEvent: Decodable, Equatable, Sendable {
        public var status: String?
        public var digest: String?
        public var total: Int64?
        public var completed: Int64?
        public var error: String?

        public init(
            status: String? = nil, digest: String? = nil, total: Int64? = nil, completed: Int64? = nil,
            error: String? = nil
        ) {
            self.status = status
            self.digest = digest
            self.total = total
            self.completed = completed
            self.error = error
        }
    }

    /// Splits a streamed body into NDJSON lines as bytes arrive (a line may span chunks) and decodes each.
    /// Progress lines are under 200 bytes: a line longer than `maximumLineLength` is reported once (an event with
    /// an `error`) and skipped to its end, however many chunks it spans; none of it is read as a line of its own.
    public struct PullStream: Sendable {
        public static let maximumLineLength = 64 << 10
        var pending: [UInt8] = []
        /// Inside a line that went past the limit: everything up to the next line end is dropped.
        var skipping = false

        public init() {}

        /// The events completed by `chunk`; a line that is not JSON becomes an event with that text as `error`.
        public mutating func feed(_ chunk: [UInt8]) -> [PullEvent] {
            var events: [PullEvent] = []
            var start = chunk.startIndex
            while start < chunk.endIndex {
                let newline = chunk[start...].firstIndex(of: 10)
                let piece = chunk[start..<(newline ?? chunk.endIndex)]
                if skipping {
                    if newline != nil { skipping = false }
                } else if pending.count + piece.count > Self.maximumLineLength {
                    pending.removeAll()
                    skipping = newline == nil
                    events.append(
                        PullEvent(
                            error:
                                "a progress line longer than \(Self.maximumLineLength >> 10) KiB (Ollama's are under 200 bytes); it was skipped to its end"
                        ))
                } else {
                    pending += piece
                    if newline != nil {
                        if let event = Self.decode(pending) { events.append(event) }
                        pending.removeAll(keepingCapacity: true)
                    }
                }
                guard let newline else { break }
                start = newline + 1
            }
            return events
        }

        /// The event of one complete line; nil for a blank line.
        static func decode(_ line: [UInt8]) -> PullEvent? {
            if line.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) { return nil }
            if let event = try? JSONDecoder().decode(PullEvent.self, from: Data(line)) { return event }
            return PullEvent(
                error: "unreadable progress line: " + String(decoding: line.prefix(120), as: UTF8.self).debugSafe)
        }
    }

    /// Progress lines for a terminal or a log: one each time the status changes or a layer's download passes
    /// another 10 %, never one per NDJSON line (a large model sends thousands).
    public struct ProgressReporter: Sendable {
        var lastStatus = ""
        var lastDecile: [String: Int] = [:]

        public init() {}

        public mutating func line(for event: PullEvent, model: String) -> String? {
            guard let status = event.status else { return nil }
            if let total = event.total, total > 0, let digest = event.digest {
                let decile = Self.decile(event.completed ?? 0, of: total)
                defer { lastStatus = status }
                if lastDecile[digest] == decile && lastStatus == status { return nil }
                lastDecile[digest] = decile
                return "\(model): \(Self.bar(decile)) \(decile * 10) % of \(Self.size(total)) (\(digest.prefix(19)))"
            }
            guard status != lastStatus else { return nil }
            lastStatus = status
            return "\(model): \(status)"
        }

        /// How many tenths of `total` are `completed`, from 0 to 10: a server's numbers are clamped to 0...total,
        /// and the product with 10 is taken at full width, so no value (up to Int64.max) can overflow it.
        static func decile(_ completed: Int64, of total: Int64) -> Int {
            let done = min(max(completed, 0), total)
            let product = done.multipliedFullWidth(by: 10)
            return Int(total.dividingFullWidth(product).quotient)
        }

        static func bar(_ decile: Int) -> String {
            "[" + String(repeating: "#", count: decile) + String(repeating: ".", count: 10 - decile) + "]"
        }

        static func size(_ bytes: Int64) -> String {
            let units = ["B", "KB", "MB", "GB", "TB"]
            var value = Double(bytes)
            var unit = 0
            while value >= 1000 && unit < units.count - 1 {
                value /= 1000
                unit += 1
            }
            return unit == 0 ? "\(bytes) B" : decimal(value) + " " + units[unit]
        }
    }
}
