import SBSCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The tree host facts are read from: `/` on a real host, a fixture folder in tests (`--sysroot`).
/// Every read is relative to it, so a fixture tree with `proc/meminfo`, `sys/fs/cgroup/…`, `etc/os-release` and
/// `usr/bin/nvidia-smi` stands in for a whole machine.
public struct Sysroot: Sendable, Equatable {
    /// The folder, without a trailing slash (`/` stays `/`).
    public let path: String

    public init(_ path: String = "/") {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed.isEmpty ? "/" : trimmed
    }

    public var isRealSystem: Bool { path == "/" }

    /// `absolute` (such as `/proc/meminfo`) inside the sysroot.
    public func resolve(_ absolute: String) -> String {
        let relative = absolute.hasPrefix("/") ? String(absolute.dropFirst()) : absolute
        return path == "/" ? "/" + relative : path + "/" + relative
    }

    /// The file's text, or nil when it is missing or unreadable (a fact that cannot be read is absent, not fatal).
    public func readText(_ absolute: String) -> String? {
        guard let bytes = try? AtomicFile.read(resolve(absolute), limit: .hostFact) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The file's first line, trimmed, or nil.
    public func readLine(_ absolute: String) -> String? {
        guard let text = readText(absolute) else { return nil }
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = line.trimmingSpaces
        return trimmed.isEmpty ? nil : trimmed
    }

    public func exists(_ absolute: String) -> Bool {
        AtomicFile.status(of: resolve(absolute), followingLinks: false) != nil
    }

    public func isDirectory(_ absolute: String) -> Bool {
        AtomicFile.kind(of: resolve(absolute)) == .directory
    }

    /// Names in the folder, sorted; empty when it is missing.
    public func list(_ absolute: String) -> [String] {
        guard let dir = opendir(resolve(absolute)) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The target of a symbolic link (as `/proc/PID/fd/N` links read `socket:[INODE]`), or nil.
    public func readLink(_ absolute: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(resolve(absolute), &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return buffer.withUnsafeBufferPointer { pointer in
            String(decoding: UnsafeRawBufferPointer(start: pointer.baseAddress, count: count), as: UTF8.self)
        }
    }

    /// Where external programs are looked up: the PATH on the real system; only `SYSROOT/usr/bin` and `SYSROOT/bin`
    /// for a fixture tree, so a program the fixture does not ship reads as absent.
    public var commandSearchPath: [String]? {
        isRealSystem ? nil : [resolve("/usr/bin"), resolve("/bin")]
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line ends.
    var trimmingSpaces: String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\t" || first == "\n" || first == "\r" {
            scalars.removeFirst()
        }
        while let last = scalars.last, last == " " || last == "\t" || last == "\n" || last == "\r" {
            scalars.removeLast()
        }
        return String(String.UnicodeScalarView(scalars))
    }
}
