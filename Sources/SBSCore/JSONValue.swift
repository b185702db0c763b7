import FoundationEssentials

/// Any JSON value. The state keeps step outputs and the installer's own part of a run's scope in this form, so the
/// generic graph code stores them without knowing their types; ACME reads headers and documents whose shape is not
/// fixed through it.
public enum JSONValue: Codable, Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// A typed value as JSON.
    /// - Throws: the encoder's error (a value that JSON cannot hold, such as a NaN).
    public init<T: Encodable>(encoding value: T) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONValue.canonicalEncoder.encode(value))
    }

    /// The typed value this JSON holds.
    /// - Throws: `DecodingError` naming the field that does not fit.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONValue.canonicalDecoder.decode(type, from: JSONValue.canonicalEncoder.encode(self))
    }

    /// The top-level scalar fields of an object as text (`true`/`false`, numbers without a trailing `.0`, strings,
    /// lists of scalars joined by commas): the facts a step's `when:` can test.
    public var facts: [String: String] {
        guard case .object(let fields) = self else { return [:] }
        var facts: [String: String] = [:]
        for (key, value) in fields {
            if let text = value.scalarText {
                facts[key] = text
            } else if case .array(let items) = value {
                let texts = items.compactMap(\.scalarText)
                if texts.count == items.count { facts[key] = texts.joined(separator: ",") }
            }
        }
        return facts
    }

    var scalarText: String? {
        switch self {
        case .bool(let value): return value ? "true" : "false"
        case .string(let value): return value
        case .number(let value):
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .null, .array, .object: return nil
        }
    }

    /// The value as indented JSON with sorted keys, for people and scripts reading `--json` output.
    /// - Throws: the encoder's error (a value that JSON cannot hold, such as a NaN).
    public func prettyPrinted() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Sorted keys, no extra white space: the same value always gives the same bytes (fingerprints hash these).
    public static var canonicalEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// Reads what `canonicalEncoder` wrote (dates as ISO 8601 text, as it writes them).
    public static var canonicalDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }
}
