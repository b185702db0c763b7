#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files so that a reader (or a crash) sees either the old content or the new one, never a part:
/// temp file in the same folder, fsync, rename, fsync of the folder.
public enum AtomicFile {
    /// Writes `bytes` to `path` with `mode`, creating parent folders (0755) as needed.
    /// - Throws: `UserError` naming the path and the failing system call (open, write, fsync, rename).
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(UserError) {
        let dir = parentDirectory(of: path)
        try makeDirectories(dir)
        removeStaleTemporaries(of: path)
        // Unique per writer (pid and a random part), created exclusively: two writers never share a temp file.
        // Created with `mode` (the umask can only narrow it), so a secret's temporary file is never readable by
        // others, not even before the fchmod below.
        let temp = dir + "/.\(baseName(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw systemError("create", temp) }
        // The mode is set explicitly so that the umask cannot widen or narrow it.
        fchmod(fd, mode)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBufferPointer { buffer in
                Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let error = systemError("write", temp)
                close(fd); unlink(temp)
                throw error
            }
            offset += n
        }
        if fsync(fd) != 0 {
            let error = systemError("fsync", temp)
            close(fd); unlink(temp)
            throw error
        }
        close(fd)
        if rename(temp, path) != 0 {
            let error = systemError("rename", path)
            unlink(temp)
            throw error
        }
        syncDirectory(dir)
    }

    public static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws(UserError) {
        try write(Array(text.utf8), to: path, mode: mode)
    }

    /// The file's bytes, or nil when it does not exist.
    public static func read(_ path: String) throws(UserError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw systemError("open", path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBufferPointer { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw systemError("read", path)
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }

    public static func readText(_ path: String) throws(UserError) -> String? {
        guard let bytes = try read(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The permission bits of `path`, or nil when it does not exist.
    public static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    /// What `stat` says of a path, for the libraries above SBSCore (which see `struct stat` through Foundation's
    /// modules, so they read it here).
    public struct Status: Sendable, Equatable {
        public enum Kind: Sendable { case file, directory, link, other }
        public var kind: Kind
        public var size: Int
        /// The permission bits.
        public var mode: mode_t
    }

    /// The status of `path` (of the link itself when `followingLinks` is false), or nil when it does not exist.
    public static func status(of path: String, followingLinks: Bool = true) -> Status? {
        var info = stat()
        guard (followingLinks ? stat(path, &info) : lstat(path, &info)) == 0 else { return nil }
        let kind: Status.Kind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .link
        default: kind = .other
        }
        return Status(kind: kind, size: Int(info.st_size), mode: info.st_mode & 0o7777)
    }

    /// What `path` is (links followed), or nil when it does not exist.
    public static func kind(of path: String) -> Status.Kind? { status(of: path)?.kind }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// `mkdir -p` with mode 0755 for the folders it creates.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(UserError) {
        if path.isEmpty || path == "/" { return }
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw UserError("\(path) exists but is not a folder.", remedy: "Move it away and run sbs again.")
        }
        try makeDirectories(parentDirectory(of: path), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST { throw systemError("mkdir", path) }
        // mkdir applies the umask; the folder gets the mode asked for.
        chmod(path, mode)
    }

    /// Removes the temporary files a killed writer of `path` left behind (`.NAME.tmp-PID-RANDOM` whose PID no
    /// longer runs). A writer that still runs keeps its own.
    public static func removeStaleTemporaries(of path: String) {
        let dir = parentDirectory(of: path)
        let prefix = ".\(baseName(of: path)).tmp-"
        guard let handle = opendir(dir) else { return }
        defer { closedir(handle) }
        var stale: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(prefix),
                  let pid = name.dropFirst(prefix.count).split(separator: "-").first.flatMap({ pid_t($0) }), pid > 0
            else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { stale.append(name) }
        }
        for name in stale { unlink(dir + "/" + name) }
    }

    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    public static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    public static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    public static func systemError(_ call: String, _ path: String) -> UserError {
        let code = errno
        let reason = String(cString: strerror(code))
        var remedy: String? = nil
        if code == EACCES || code == EPERM { remedy = "Run sbs as root, or choose a --root you can write to." }
        if code == ENOSPC { remedy = "Free disk space and run `sbs resume`." }
        return UserError("\(call) \(path) failed: \(reason)", remedy: remedy)
    }
}
