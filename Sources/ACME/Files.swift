import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// File operations the ACME library needs, kept here so the library depends on no other sbs module.
enum FileIO {
    /// Writes `bytes` to `path` so a reader sees the old or the new content, never a part: a temp file in the
    /// same folder with `mode` set explicitly (the umask must not widen a key's mode), fsync, rename, fsync of
    /// the folder. Creates missing parent folders 0755.
    /// - Throws: `ACMEError` (`.local`) naming the path and the failing system call.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let dir = parent(of: path)
        try makeDirectories(dir)
        let temp = dir + "/.\(baseName(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw systemError("create", temp) }
        fchmod(fd, mode)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let error = systemError("write", temp)
                close(fd)
                unlink(temp)
                throw error
            }
            offset += written
        }
        if fsync(fd) != 0 {
            let error = systemError("fsync", temp)
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        if rename(temp, path) != 0 {
            let error = systemError("rename", path)
            unlink(temp)
            throw error
        }
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    static func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        try writeAtomically(Array(text.utf8), to: path, mode: mode)
    }

    /// The file's bytes, or nil when it does not exist.
    /// - Throws: `ACMEError` (`.local`) for other failures (permissions, a folder in the way).
    static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw systemError("open", path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw systemError("read", path)
            }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }

    static func readText(_ path: String) throws -> String? {
        try read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The permission bits of `path`, or nil when it does not exist.
    static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    static func remove(_ path: String) { unlink(path) }

    /// `mkdir -p`; the folders it creates get `mode`.
    /// - Throws: `ACMEError` (`.local`) when a path component is a file or mkdir fails.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if path.isEmpty || path == "/" || path == "." { return }
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw ACMEError.local("\(path) exists but is not a folder.", remedy: "Move it away and run sbs again.")
        }
        try makeDirectories(parent(of: path), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST { throw systemError("mkdir", path) }
        // mkdir applies the umask; set the mode the caller asked for.
        chmod(path, mode)
    }

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

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static func systemError(_ call: String, _ path: String) -> ACMEError {
        let reason = String(cString: strerror(errno))
        return ACMEError.local(
            "\(call) \(path) failed: \(reason).",
            remedy: errno == EACCES || errno == EPERM
                ? "Run sbs as root, or fix the permissions of \(parent(of: path))."
                : "Check the path and the free disk space, then retry.")
    }
}
