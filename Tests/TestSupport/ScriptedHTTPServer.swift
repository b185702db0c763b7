import Foundation
import Synchronization

/// An HTTP/1.1 server on a free loopback port that plays a script of responses, for code that speaks HTTP itself
/// (with the real libcurl transport) to a service on the network. Each request is matched on `METHOD /path`; the
/// same key may appear several times, its responses given in order. It fails closed: a request that is not in the
/// script, or one asked more often than the script answers it, gets HTTP 599 and is listed in `unexpected` (a
/// test asserts that list empty: the server's thread cannot fail a test by itself). One connection at a time,
/// each closed after its response. Its thread serves until `stop()`.
public final class ScriptedHTTPServer: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        /// The body in the pieces it is sent in. More than one: sent with chunked transfer encoding, a piece per
        /// chunk, as a streaming API does.
        public var chunks: [String]

        public init(status: Int = 200, contentType: String = "application/json; charset=utf-8", chunks: [String]) {
            self.status = status
            self.contentType = contentType
            self.chunks = chunks
        }

        public static func json(_ body: String, status: Int = 200) -> Response {
            Response(status: status, chunks: [body])
        }

        /// NDJSON streamed a line per chunk.
        public static func ndjson(_ lines: [String], status: Int = 200) -> Response {
            Response(status: status, contentType: "application/x-ndjson", chunks: lines.map { $0 + "\n" })
        }
    }

    /// One request as received.
    public struct Request: Sendable, Equatable {
        public var method: String
        public var path: String
        public var body: String
        public var key: String { method + " " + path }
    }

    public let port: Int
    private let listener: Int32
    private let state: Mutex<(pending: [String: [Response]], received: [Request], unexpected: [String])>
    private let done = Mutex(false)

    public init(_ script: KeyValuePairs<String, Response>) throws {
        var pending: [String: [Response]] = [:]
        for (key, response) in script { pending[key, default: []].append(response) }
        state = Mutex((pending, [], []))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NoFreePort(description: "socket() failed: errno \(errno)") }
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
        guard bound, listen(fd, 8) == 0 else {
            close(fd)
            throw NoFreePort(description: "bind/listen on 127.0.0.1 failed: errno \(errno)")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in serve() }
    }

    /// Every request received, in order.
    public var received: [Request] { state.withLock { $0.received } }
    /// The requests the script had no response for (`METHOD /path`).
    public var unexpected: [String] { state.withLock { $0.unexpected } }
    /// The responses never asked for, by key.
    public var unused: [String] { state.withLock { $0.pending.filter { !$0.value.isEmpty }.keys.sorted() } }

    /// Stops accepting connections.
    public func stop() {
        let first = done.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            answer(connection)
            close(connection)
        }
    }

    private func answer(_ connection: Int32) {
        guard let request = read(connection) else { return }
        let response: Response? = state.withLock { state in
            state.received.append(request)
            guard var responses = state.pending[request.key], !responses.isEmpty else {
                state.unexpected.append(request.key)
                return nil
            }
            let first = responses.removeFirst()
            state.pending[request.key] = responses
            return first
        }
        let reply =
            response
            ?? Response(status: 599, contentType: "text/plain", chunks: ["unexpected request in test: \(request.key)"])
        var head = "HTTP/1.1 \(reply.status) Scripted\r\nContent-Type: \(reply.contentType)\r\nConnection: close\r\n"
        if reply.chunks.count == 1 {
            head += "Content-Length: \(reply.chunks[0].utf8.count)\r\n\r\n" + reply.chunks[0]
            write(connection, head)
        } else {
            write(connection, head + "Transfer-Encoding: chunked\r\n\r\n")
            for chunk in reply.chunks where !chunk.isEmpty {
                write(connection, String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
            }
            write(connection, "0\r\n\r\n")
        }
    }

    private func read(_ connection: Int32) -> Request? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        var bodyLength = 0
        while true {
            if headerEnd == nil, let range = bytes.firstRange(of: separator) {
                headerEnd = range.upperBound
                let head = String(decoding: bytes[..<range.lowerBound], as: UTF8.self)
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    bodyLength = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let end = headerEnd, bytes.count >= end + bodyLength {
                let head = String(decoding: bytes[..<end], as: UTF8.self)
                let words = head.split(separator: " ", maxSplits: 2)
                guard words.count >= 2 else { return nil }
                return Request(
                    method: String(words[0]), path: String(words[1]),
                    body: String(decoding: bytes[end..<(end + bodyLength)], as: UTF8.self))
            }
            let count = recv(connection, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            bytes += buffer[..<count]
        }
    }

    private func write(_ connection: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            bytes = bytes.dropFirst(sent)
        }
    }
}
