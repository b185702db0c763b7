import Synchronization

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
        temporariesInFlight.withLock { _ = $0.insert(temp) }
        defer { temporariesInFlight.withLock { _ = $0.remove(temp) } }
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
                close(fd)
                unlink(temp)
                throw error
            }
            offset += n
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
        syncDirectory(dir)
    }

    public static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws(UserError) {
        try write(Array(text.utf8), to: path, mode: mode)
    }

    /// The temporary files being written at this moment (created, not yet renamed or removed).
    static let temporariesInFlight = Mutex<Set<String>>([])

    /// Removes the temporary files being written at this moment. For a process that ends at once (a second Ctrl-C):
    /// what it was writing is lost either way, and must not be left beside the file it was to replace.
    /// - Parameter prefix: only those whose path starts so (the default: all).
    public static func removeTemporariesInFlight(under prefix: String = "/") {
        for temp in temporariesInFlight.withLock({ $0 }) where temp.hasPrefix(prefix) { unlink(temp) }
    }

    /// The file's bytes, or nil when it does not exist.
    ///
    /// Only a regular file of at most `limit` bytes is read, and that is checked on the open descriptor, not on the
    /// path: it is opened without blocking (a FIFO cannot hang the read), `fstat` must say regular file (a device
    /// such as /dev/zero, a FIFO, a socket or a folder is refused), and at most `limit + 1` bytes are read (a file
    /// that grows while read is refused too). With `followingLinks: false` a symbolic link in the last component is
    /// refused: the files sbs keeps are never links, so one there was put there by someone else.
    /// - Throws: `UserError` naming the path and why (not a regular file, larger than the limit, a link, the failing
    ///   system call).
    public static func read(_ path: String, limit: ReadLimit, followingLinks: Bool = true) throws(UserError) -> [UInt8]?
    {
        guard let fd = try openRegularFile(path, limit: limit, followingLinks: followingLinks) else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result.count <= limit.bytes {
            let want = min(buffer.count, limit.bytes + 1 - result.count)
            let n = buffer.withUnsafeMutableBufferPointer { Glibc.read(fd, $0.baseAddress!, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw systemError("read", path)
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        if result.count > limit.bytes { throw tooLarge(path, limit) }
        return result
    }

    /// Whether `path` exists, after the checks `read` makes before reading (a regular file, at most `limit`
    /// bytes), for a file another library opens itself: libcurl reads a CA bundle by its path, and a FIFO there
    /// would block it in open(2), beyond the reach of its timeouts.
    /// - Throws: `UserError` as `read` does.
    public static func checkRegularFile(_ path: String, limit: ReadLimit) throws(UserError) -> Bool {
        guard let fd = try openRegularFile(path, limit: limit, followingLinks: true) else { return false }
        close(fd)
        return true
    }

    /// A descriptor of `path` open for reading, checked as `read` describes, or nil when it does not exist. The
    /// caller closes it.
    static func openRegularFile(_ path: String, limit: ReadLimit, followingLinks: Bool) throws(UserError) -> Int32? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (followingLinks ? 0 : O_NOFOLLOW))
        if fd < 0 {
            if errno == ENOENT { return nil }
            if errno == ELOOP && !followingLinks {
                throw UserError(
                    "\(path) is a symbolic link; sbs reads it only as a regular file of its own.",
                    remedy: "Replace the link with the file itself (or move it away).")
            }
            throw systemError("open", path)
        }
        var keep = false
        defer { if !keep { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw systemError("fstat", path) }
        if !followingLinks {
            // A file sbs keeps: it and its folders must be sbs's own (root's or this user's), not planted by another.
            try checkTrusted(folder: parentDirectory(of: path))
            guard trustedOwner(info.st_uid) else {
                throw UserError(
                    "\(path) belongs to user \(info.st_uid), not to root or the user running sbs; sbs does not read a file someone else may have put there.",
                    remedy: "Check where it came from; if it is yours, `chown` it to root, else remove it.")
            }
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw UserError(
                "\(path) is not a regular file (it is \(describe(info.st_mode))); sbs reads only regular files.",
                remedy: "Put the file itself there (or move this away).")
        }
        if Int(info.st_size) > limit.bytes { throw tooLarge(path, limit) }
        // Back to blocking reads: a regular file never blocks, and O_NONBLOCK was only there for the open.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        keep = true
        return fd
    }

    /// The file's text (bytes that are not UTF-8 read as U+FFFD), or nil when it does not exist; see `read`.
    public static func readText(_ path: String, limit: ReadLimit, followingLinks: Bool = true) throws(UserError)
        -> String?
    {
        guard let bytes = try read(path, limit: limit, followingLinks: followingLinks) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func tooLarge(_ path: String, _ limit: ReadLimit) -> UserError {
        UserError(
            "\(path) is larger than \(limit.description), the most sbs reads for \(limit.kind).",
            remedy: "Check that \(path) is the file meant; move it away if it is not.")
    }

    static func describe(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a file"
        }
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
    /// The folders on the way (those that exist) must be ones no one but root or this user can change (see
    /// `checkTrusted`): sbs writes secrets and configurations into them.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(UserError) {
        try checkTrusted(folder: path)
        try makeFolders(path, mode: mode)
    }

    private static func makeFolders(_ path: String, mode: mode_t) throws(UserError) {
        if path.isEmpty || path == "/" { return }
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw UserError("\(path) exists but is not a folder.", remedy: "Move it away and run sbs again.")
        }
        try makeFolders(parentDirectory(of: path), mode: mode)
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

    /// Refuses `folder` when it, or any existing folder above it, could be changed by someone other than root or
    /// the user running sbs: each must be owned by one of them (the link, when it is one, and what it leads to),
    /// and writable by no one else. Two exceptions the system needs: a folder above `folder` may be world-writable
    /// when it is root's and sticky (/tmp: no one can rename or replace what another user made in it), and a
    /// folder's group may write when it is a system group (gid below 1000, such as Ubuntu's /var/log,
    /// root:syslog 0775). Folders that do not exist yet are fine: sbs makes them.
    /// With `strict`, `folder` itself gets neither exception: writable by its owner only.
    /// - Throws: `UserError` naming the folder, its owner and its mode.
    public static func checkTrusted(folder: String, strict: Bool = false) throws(UserError) {
        guard folder.hasPrefix("/") else { return try checkTrusted(folder: absolutePath(folder), strict: strict) }
        var components: [String] = ["/"]
        var current = ""
        for part in folder.split(separator: "/") {
            current += "/" + part
            components.append(current)
        }
        for (index, path) in components.enumerated() {
            var link = stat()
            var info = stat()
            guard lstat(path, &link) == 0 else {
                if errno == ENOENT { return }
                throw systemError("lstat", path)
            }
            guard stat(path, &info) == 0 else {
                if errno == ENOENT { return }
                throw systemError("stat", path)
            }
            let isTarget = index == components.count - 1
            let owners = [link.st_uid, info.st_uid]
            if let stranger = owners.first(where: { !trustedOwner($0) }) {
                throw UserError(
                    "\(path) belongs to user \(stranger), not to root or the user running sbs: whoever owns it could change what sbs writes there or reads back.",
                    remedy: "Use a folder owned by root (`chown root:root \(path)`), or another --root.")
            }
            let mode = info.st_mode
            let worldWritable = mode & 0o002 != 0
            let groupWritable = mode & 0o020 != 0
            let lenient = !(strict && isTarget)
            let stickyAbove = lenient && mode & 0o1000 != 0 && info.st_uid == 0
            let systemGroup = lenient && info.st_gid < 1000
            if (worldWritable && !stickyAbove) || (groupWritable && !systemGroup && !stickyAbove) {
                throw UserError(
                    "\(path) can be written by \(worldWritable ? "every user" : "group \(info.st_gid)") (mode \(String(mode & 0o7777, radix: 8))): another user could put links or files there that sbs would write through or read.",
                    remedy: "Make it writable by its owner only (`chmod go-w \(path)`), or use another --root.")
            }
        }
    }

    static func trustedOwner(_ uid: uid_t) -> Bool { uid == 0 || uid == geteuid() }

    static func absolutePath(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" + path }
        let cwd = String(cString: buffer)
        return (cwd == "/" ? "" : cwd) + "/" + path
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
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    public static func systemError(_ call: String, _ path: String) -> UserError {
        let code = errno
        let reason = String(cString: strerror(code))
        var remedy: String? = nil
        if code == EACCES || code == EPERM { remedy = "Run sbs as root, or choose a --root you can write to." }
        if code == ENOSPC { remedy = "Free disk space, then run the command again." }
        return UserError("\(call) \(path) failed: \(reason)", remedy: remedy)
    }
}

/// The most bytes sbs reads of one file, by kind of file: a file larger than its kind allows is refused, never
/// read whole into memory.
public struct ReadLimit: Sendable, Equatable, CustomStringConvertible {
    public let bytes: Int
    /// What the limit is for, as a message says it ("a secrets file").
    public let kind: String

    public init(bytes: Int, kind: String) {
        self.bytes = bytes
        self.kind = kind
    }

    public var description: String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : bytes % 1024 == 0 ? "\(bytes >> 10) KiB" : "\(bytes) bytes"
    }

    /// `secrets.env` and the deploy `.env`: a few dozen lines.
    public static let secrets = ReadLimit(bytes: 1 << 20, kind: "a secrets file")
    /// A secret given as `file:PATH`.
    public static let secretFile = ReadLimit(bytes: 64 << 10, kind: "a secret's file")
    /// `state.json` and the other records sbs keeps (verify.json, renewal settings).
    public static let state = ReadLimit(bytes: 16 << 20, kind: "a state file")
    /// An answers file.
    public static let answers = ReadLimit(bytes: 256 << 10, kind: "an answers file")
    /// A certificate chain or a key (PEM).
    public static let pem = ReadLimit(bytes: 1 << 20, kind: "a certificate or key")
    /// A bundle of CA certificates (the system's is about 200 KiB).
    public static let caBundle = ReadLimit(bytes: 4 << 20, kind: "a CA bundle")
    /// A small key file sbs keeps (the fingerprint key).
    public static let key = ReadLimit(bytes: 4 << 10, kind: "a key file")
    /// A file sbs renders or ships (configs, templates, step definitions).
    public static let config = ReadLimit(bytes: 16 << 20, kind: "a configuration file")
    /// A host fact (/proc, /sys, /etc/os-release).
    public static let hostFact = ReadLimit(bytes: 16 << 20, kind: "a host fact")
}
