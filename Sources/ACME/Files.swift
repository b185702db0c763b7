import FoundationEssentials
import SBSCore

#if canImport(Glibc)
    import Glibc
#endif

/// File operations of the ACME library: sbs's atomic files (SBSCore), with their errors as `ACMEError`s.
enum FileIO {
    /// Writes `bytes` atomically with `mode` (see `AtomicFile.write`), creating parent folders 0755.
    /// - Throws: `ACMEError` (`.local`) naming the path and the failing system call.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        try local { () throws(UserError) in try AtomicFile.write(bytes, to: path, mode: mode) }
    }

    static func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        try writeAtomically(Array(text.utf8), to: path, mode: mode)
    }

    /// The file's bytes, or nil when it does not exist.
    /// - Throws: `ACMEError` (`.local`) for other failures (permissions, a folder in the way).
    static func read(_ path: String, limit: ReadLimit, followingLinks: Bool = true) throws -> [UInt8]? {
        try local { () throws(UserError) in try AtomicFile.read(path, limit: limit, followingLinks: followingLinks) }
    }

    static func readText(_ path: String, limit: ReadLimit, followingLinks: Bool = true) throws -> String? {
        try read(path, limit: limit, followingLinks: followingLinks).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `mkdir -p`; the folders it creates get `mode`.
    /// - Throws: `ACMEError` (`.local`) when a path component is a file or mkdir fails.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        try local { () throws(UserError) in try AtomicFile.makeDirectories(path, mode: mode) }
    }

    static func parent(of path: String) -> String { AtomicFile.parentDirectory(of: path) }
    static func baseName(of path: String) -> String { AtomicFile.baseName(of: path) }

    static func local<T>(_ body: () throws(UserError) -> T) throws -> T {
        do { return try body() } catch {
            throw ACMEError.local(
                error.message, remedy: error.remedy ?? "Check the path and the free disk space, then retry.")
        }
    }

    static func exists(_ path: String) -> Bool { AtomicFile.exists(path) }

    static func isDirectory(_ path: String) -> Bool {
        AtomicFile.kind(of: path) == .directory
    }

    /// The permission bits of `path`, or nil when it does not exist.
    static func mode(of path: String) -> mode_t? { AtomicFile.mode(of: path) }

    static func remove(_ path: String) { unlink(path) }

    /// Names in folder `path` (no `.` and `..`), sorted; empty when it does not exist.
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
