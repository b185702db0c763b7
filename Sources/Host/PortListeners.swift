/// A socket listening on a TCP port, with the process that holds it when it can be found.
public struct PortListener: Codable, Sendable, Equatable {
    public var port: Int
    /// The local address, such as `0.0.0.0`, `127.0.0.1` or `::`.
    public var address: String
    public var inode: Int
    public var pid: Int?
    /// The process name (`/proc/PID/comm`).
    public var process: String?

    public var holderDescription: String {
        if let pid, let process { return "\(process) (pid \(pid))" }
        if let pid { return "pid \(pid)" }
        return "a process sbs cannot see (socket inode \(inode); it may live in another network namespace)"
    }
}

/// Finds listening TCP sockets from `/proc/net/tcp{,6}` and their owners from `/proc/*/fd`, through a sysroot.
public struct PortListenerTable: Sendable {
    public let sysroot: Sysroot

    public init(sysroot: Sysroot = Sysroot()) {
        self.sysroot = sysroot
    }

    /// Sockets in state LISTEN on `port` (IPv4 and IPv6).
    public func listeners(on port: Int) -> [PortListener] { listeners(onAny: port) }

    /// Every socket in state LISTEN, on any port (sshd's, whatever its configuration says).
    public func allListeners() -> [PortListener] { listeners(onAny: nil) }

    func listeners(onAny port: Int?) -> [PortListener] {
        var found: [PortListener] = []
        for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
            guard let text = sysroot.readText(file) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count >= 10, fields[3] == "0A" else { continue }
                let local = fields[1].split(separator: ":")
                guard local.count == 2, let localPort = Int(local[1], radix: 16), port == nil || localPort == port,
                    let inode = Int(fields[9])
                else { continue }
                let address = Self.decodeAddress(String(local[0]), v6: v6) ?? String(local[0])
                found.append(PortListener(port: localPort, address: address, inode: inode))
            }
        }
        guard !found.isEmpty else { return [] }
        let owners = socketOwners(inodes: Set(found.map(\.inode)))
        return found.map { listener in
            var listener = listener
            if let pid = owners[listener.inode] {
                listener.pid = pid
                listener.process = sysroot.readLine("/proc/\(pid)/comm")
            }
            return listener
        }
    }

    /// inode → pid, by reading every `/proc/PID/fd/N` link (`socket:[INODE]`).
    func socketOwners(inodes: Set<Int>) -> [Int: Int] {
        var owners: [Int: Int] = [:]
        for entry in sysroot.list("/proc") {
            guard let pid = Int(entry) else { continue }
            for fd in sysroot.list("/proc/\(entry)/fd") {
                guard let target = sysroot.readLink("/proc/\(entry)/fd/\(fd)"), target.hasPrefix("socket:["),
                    let inode = Int(target.dropFirst("socket:[".count).dropLast()), inodes.contains(inode),
                    owners[inode] == nil
                else { continue }
                owners[inode] = pid
            }
        }
        return owners
    }

    /// The kernel prints addresses as 32-bit words in host (little-endian) order.
    static func decodeAddress(_ hex: String, v6: Bool) -> String? {
        let bytes = stride(from: 0, to: hex.count, by: 2).compactMap { offset -> UInt8? in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
        }
        guard bytes.count == (v6 ? 16 : 4) else { return nil }
        var ordered: [UInt8] = []
        for word in stride(from: 0, to: bytes.count, by: 4) { ordered += bytes[word..<word + 4].reversed() }
        return IPAddress(bytes: ordered)?.description
    }
}
