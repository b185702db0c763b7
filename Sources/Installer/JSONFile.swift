import Foundation
import SBSCore

/// Small JSON files beside the state (`host.json`, `profile.json`): written atomically, sorted keys so the same
/// value gives the same bytes.
enum JSONFile {
    static func write<T: Encodable>(_ value: T, to path: String) throws(UserError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try AtomicFile.write(Array(try encoder.encode(value)) + [10], to: path)
        } catch let error as UserError {
            throw error
        } catch {
            throw UserError("Could not encode \(path): \(error)")
        }
    }

    /// - Throws: `UserError` when the file is missing (the step that writes it has not run) or damaged.
    static func read<T: Decodable>(_ type: T.Type, from path: String, writtenBy step: String) throws(UserError) -> T {
        guard let bytes = try AtomicFile.read(path) else {
            throw UserError("\(path) is missing.", remedy: "Run the \(step) step again: `sbs install --from \(step)`.")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw UserError("\(path) is damaged: \(error)", remedy: "Run `sbs install --from \(step)`.")
        }
    }

    /// sha256 of a file's bytes (or of nothing when it is missing), for fingerprints.
    static func digest(_ path: String) -> String {
        var hasher = SHA256Hasher()
        hasher.update(Data((try? AtomicFile.read(path)) ?? nil ?? []))
        return hasher.hex
    }
}
