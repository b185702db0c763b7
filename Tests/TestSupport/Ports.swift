import Foundation

public struct NoFreePort: Error, CustomStringConvertible {
    public let description: String
}

/// A loopback port nothing listens on now: the kernel's choice for a socket bound to 127.0.0.1 port 0, released
/// at once. Tests listen on these, never on a fixed port another test or the end-to-end install may be using.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw NoFreePort(description: "socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw NoFreePort(description: "bind(127.0.0.1:0) failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts a TCP connection on 127.0.0.1:`port` now.
public func isListening(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// Waits up to 10 s for something to listen on 127.0.0.1:`port` (a server a test started).
/// - Throws: `NoFreePort` naming the port when nothing does.
public func waitForListener(_ port: Int) async throws {
    for _ in 0..<100 {
        if isListening(port) { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw NoFreePort(description: "nothing listens on 127.0.0.1:\(port) after 10 s")
}
